"""Hostile inputs: every public entry point rejects them with a TypeError/ValueError naming the argument.

Each case is a call, the exception type it must raise and a pattern the message must contain (the
argument's name). ``ISSUE`` holds the reproducers of issue 14 line by line; the other tables try what
an attacker would (non-finite values in one place only, wrong types, bools for numbers, empty and
degenerate shapes, sizes past libjpeg's limits, inconsistent coefficients, ...). Valid edge cases
(empty batches, quality 0, half precision, vmap) are checked to keep working, quality 0 against
the real codec, and the value checks' cost is counted: at most one host sync per call.
"""

from __future__ import annotations

import functools
import math
import re
import warnings
from dataclasses import replace

import kornia
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import kornia_diffjpeg as kd
from kornia_diffjpeg import (
    DiffJPEG,
    DiffJPEGCodec,
    DiffJPEGFileSize,
    JPEGCoefficients,
    RandomDiffJPEG,
    attacks,
    diff_jpeg,
    diff_jpeg_file_size,
    encode_jpeg,
    jpeg_decode,
    jpeg_encode,
    jpeg_file_size,
    set_validation,
)
from kornia_diffjpeg.codec import jfif_color
from kornia_diffjpeg.control import (
    CodecControl,
    binned_target_sizes,
    bootstrap_loss,
    codec_control_loss,
    encode_with_control,
    fit_tables_to_size,
    integer_tables,
    pseudo_label_cross_entropy,
    standard_tables,
)
from kornia_diffjpeg.filesize import JPEGFileSizeRegressor, file_size_loss
from testing.reference import from_uint8, opencv_encode, opencv_jpeg, pillow_encode, to_uint8
from testing.syncs import HostSyncCounter

NAN, INF = float("nan"), float("inf")
MODES = ("surrogate", "ste", "exact")


def image(*shape: int, fill: float | None = None, at: tuple | None = None, value: float = NAN) -> torch.Tensor:
    """Random images in [0, 1] (seeded), optionally filled, with ``value`` written at index ``at``."""
    generator = torch.Generator().manual_seed(0)
    out = torch.rand(shape, generator=generator) if fill is None else torch.full(shape, fill)
    if at is not None:
        out[at] = value
    return out


RGB = image(2, 3, 16, 16)
TABLE = torch.full((8, 8), 16.0)
TABLES = torch.full((2, 8, 8), 16.0)
SIZES = torch.tensor([2000.0, 3000.0])
LABELS = torch.tensor([1, 2])


def _model(channels: int = 3) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(channels * 16 * 16, 10))


@functools.lru_cache(maxsize=1)
def _control() -> CodecControl:
    torch.manual_seed(0)
    return CodecControl(width=16, blocks=1)


def _coefficients(channels: int = 3, **changes) -> JPEGCoefficients:
    coded = jpeg_encode(image(2, channels, 20, 28), 60.0)
    return replace(coded, **changes) if changes else coded


def _set(tensor: torch.Tensor, index, value) -> torch.Tensor:
    tensor = tensor.clone()
    tensor[index] = value
    return tensor


def _batch(x) -> int:
    """The batch size of images (B, C, H, W), else 2: the other arguments fit whatever images are passed."""
    return x.shape[0] if isinstance(x, torch.Tensor) and x.ndim == 4 else 2


# Every entry point that takes images, as ``call(images)`` with otherwise valid arguments.
IMAGE_ENTRY_POINTS = {
    **{f"diff_jpeg-{m}": functools.partial(diff_jpeg, quality=50.0, mode=m) for m in MODES},
    **{f"jpeg_encode-{m}": functools.partial(jpeg_encode, quality=50.0, mode=m) for m in MODES},
    "DiffJPEGCodec": lambda x: DiffJPEGCodec(mode="exact")(x, 50.0),
    "DiffJPEG": lambda x: DiffJPEG(50.0)(x),
    "RandomDiffJPEG": lambda x: RandomDiffJPEG((10.0, 90.0), p=1.0)(x),
    "RandomDiffJPEG-p0": lambda x: RandomDiffJPEG((10.0, 90.0), p=0.0)(x),  # nothing coded: still checked
    "jpeg_file_size": lambda x: jpeg_file_size(x, 50.0),
    "jpeg_file_size-optimize": lambda x: jpeg_file_size(x, 50.0, optimize=True),
    "diff_jpeg_file_size": lambda x: diff_jpeg_file_size(x, 50.0),
    "DiffJPEGFileSize": lambda x: DiffJPEGFileSize()(x, 50.0),
    "CodecControl": lambda x: _control()(x, torch.full((x.shape[0] if x.ndim == 4 else 1,), 3000.0)),
    "encode_with_control": lambda x: encode_with_control(_control(), x, 3000.0),
    "encode_with_control-fit": lambda x: encode_with_control(_control(), x, 3000.0, fit_size=True),
    "fit_tables_to_size": lambda x: fit_tables_to_size(
        x, torch.full((_batch(x), 8, 8), 9.0), torch.full((_batch(x), 8, 8), 9.0), 3000.0, steps=2
    ),
    "fgsm": lambda x: attacks.fgsm(_model(), x, torch.zeros(_batch(x), dtype=torch.int64), 0.03),
    "ifgsm": lambda x: attacks.ifgsm(_model(), x, torch.zeros(_batch(x), dtype=torch.int64), 0.03, steps=1),
    "pgd": lambda x: attacks.pgd(_model(), x, torch.zeros(_batch(x), dtype=torch.int64), 0.03, steps=1),
}
EIGHT_BIT_ENTRY_POINTS = {"jpeg_file_size", "jpeg_file_size-optimize"}  # (and encode_jpeg) take uint8 images too
IMAGE_ARGUMENT = "image"  # "images" for the attacks, "input image" for the augmentations: all contain it


def _non_finite_images():
    """Non-finite pixels, one at a time: NaN in one sample only, +-inf, in luma-heavy and chroma-only spots."""
    cases = {
        "nan-one-sample": image(2, 3, 16, 16, at=(1, 0, 3, 3)),
        "nan-red-only": image(2, 3, 16, 16, at=(0, 0, 15, 15)),
        "nan-blue-only": image(2, 3, 16, 16, at=(1, 2, 0, 0)),
        "nan-everywhere": image(2, 3, 16, 16, fill=NAN),
        "+inf": image(2, 3, 16, 16, at=(0, 1, 5, 9), value=INF),
        "-inf": image(2, 3, 16, 16, at=(1, 1, 9, 5), value=-INF),
        "+inf-everywhere": image(2, 3, 16, 16, fill=INF),
        "nan-and-inf": _set(image(2, 3, 16, 16, at=(0, 0, 0, 0), value=INF), (1, 0, 0, 0), NAN),
    }
    return [pytest.param(x, id=k) for k, x in cases.items()]


@pytest.mark.parametrize("entry", list(IMAGE_ENTRY_POINTS))
@pytest.mark.parametrize("pixels", _non_finite_images())
def test_non_finite_pixels_raise(entry, pixels):
    with pytest.raises(ValueError, match=rf"{IMAGE_ARGUMENT}.* must be finite"):
        IMAGE_ENTRY_POINTS[entry](pixels)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("channels", [1, 3])
def test_non_finite_pixels_raise_whatever_autograd_records(mode, requires_grad, channels):
    x = image(1, channels, 8, 8, at=(0, 0, 3, 3)).requires_grad_(requires_grad)
    for call in (lambda: diff_jpeg(x, 90.0, mode=mode), lambda: jpeg_encode(x, 90.0, mode=mode)):
        with pytest.raises(ValueError, match="image must be finite"):
            call()
    with torch.no_grad(), pytest.raises(ValueError, match="image must be finite"):
        diff_jpeg(x, 90.0, mode=mode)


def _bad_images():
    """(images, error, pattern) that every image entry point rejects."""
    cases = [
        ("numpy", np.zeros((2, 3, 16, 16), np.float32), TypeError),
        ("list", [[[[0.5] * 16] * 16] * 3] * 2, TypeError),
        ("float", 0.5, TypeError),
        ("string", "image.jpg", TypeError),
        ("none", None, TypeError),
        ("uint8", torch.zeros(2, 3, 16, 16, dtype=torch.uint8), TypeError),
        ("int64", torch.zeros(2, 3, 16, 16, dtype=torch.int64), TypeError),
        ("bool", torch.zeros(2, 3, 16, 16, dtype=torch.bool), TypeError),
        ("complex64", torch.zeros(2, 3, 16, 16, dtype=torch.complex64), TypeError),
        ("float8", torch.zeros(2, 3, 16, 16).to(torch.float8_e4m3fn), TypeError),
        ("sparse", torch.zeros(2, 3, 16, 16).to_sparse(), TypeError),
        ("0-d", torch.tensor(0.5), ValueError),
        ("1-d", torch.rand(16), ValueError),
        ("2 channels", torch.rand(2, 2, 16, 16), ValueError),
        ("4 channels", torch.rand(2, 4, 16, 16), ValueError),
        ("0 channels", torch.rand(2, 0, 16, 16), ValueError),
        ("H=0", torch.rand(2, 3, 0, 16), ValueError),
        ("W=0", torch.rand(2, 3, 16, 0), ValueError),
        ("W=65501", torch.rand(1, 1, 1, 65501), ValueError),
        ("H=65501", torch.rand(1, 1, 65501, 1), ValueError),
    ]
    return [pytest.param(x, error, id=k) for k, x, error in cases]


@pytest.mark.parametrize("entry", [e for e in IMAGE_ENTRY_POINTS if not e.startswith(("CodecControl", "encode_"))])
@pytest.mark.parametrize(("x", "error"), _bad_images())
def test_bad_images_raise(entry, x, error):
    if isinstance(x, torch.Tensor) and x.dtype == torch.uint8 and entry in EIGHT_BIT_ENTRY_POINTS:
        # the file sizes take 8-bit images, as OpenCV does: the same result as their float form
        assert torch.equal(IMAGE_ENTRY_POINTS[entry](x), IMAGE_ENTRY_POINTS[entry](x.float() / 255.0))
        return
    with pytest.raises(error) as info:
        IMAGE_ENTRY_POINTS[entry](x)
    assert "image" in str(info.value) or "input" in str(info.value), str(info.value)


@pytest.mark.parametrize("call", [jpeg_file_size, diff_jpeg_file_size, diff_jpeg, jpeg_encode])
@pytest.mark.parametrize("shape", [(1, 3, 1, 70000), (1, 1, 65501, 1), (3, 1, 65536)])
def test_sides_past_libjpeg_limit(call, shape):
    with pytest.raises(ValueError, match=r"image sides must be at most 65500"):
        call(torch.rand(shape), 75.0)


def test_largest_side_libjpeg_takes_is_accepted():
    assert jpeg_file_size(torch.rand(1, 1, 1, 65500), 75.0).shape == (1,)


# ---------------------------------------------------------------------------------------------
# The issue's reproducers, line by line (each after torch.manual_seed(0) in the issue).
# ---------------------------------------------------------------------------------------------


def _nan_pixel(channels: int = 1) -> torch.Tensor:
    x = torch.full((1, channels, 8, 8), 0.5)
    x[0, 0, 3, 3] = NAN
    return x


ISSUE = [
    ("nan-file-size", lambda: jpeg_file_size(_nan_pixel(), 90.0), ValueError, "image"),
    ("nan-encode-exact", lambda: jpeg_encode(_nan_pixel(), 90.0, mode="exact"), ValueError, "image"),
    ("nan-rgb-black", lambda: diff_jpeg(_nan_pixel(3), 90.0, mode="exact"), ValueError, "image"),
    (
        "nan-requires-grad",
        lambda: jpeg_encode(_nan_pixel().requires_grad_(), 90.0, mode="exact"),
        ValueError,
        "image",
    ),
    ("inf-exact", lambda: diff_jpeg(_set(_nan_pixel(3), (0, 1, 1, 1), INF), 90.0, mode="exact"), ValueError, "image"),
    ("inf-surrogate", lambda: diff_jpeg(torch.full((1, 3, 8, 8), INF), 90.0), ValueError, "image"),
    ("-inf-ste", lambda: diff_jpeg(torch.full((1, 3, 8, 8), -INF), 90.0, mode="ste"), ValueError, "image"),
    (
        "fit-zero-tables",
        lambda: fit_tables_to_size(torch.rand(1, 3, 32, 32), torch.zeros(1, 8, 8), torch.full((1, 8, 8), 10.0), 2000.0),
        ValueError,
        "qt_y",
    ),
    (
        "fit-nan-tables",
        lambda: fit_tables_to_size(
            torch.rand(1, 3, 32, 32), torch.full((1, 8, 8), NAN), torch.full((1, 8, 8), 10.0), 2000.0
        ),
        ValueError,
        r"qt_y values must be finite.*NaN",
    ),
    (
        "control-nan-image",
        lambda: encode_with_control(CodecControl(), torch.full((1, 3, 16, 16), NAN), 3000.0),
        ValueError,
        "image",
    ),
    ("control-3x3", lambda: CodecControl()(torch.rand(1, 3, 3, 3), torch.tensor([3000.0])), ValueError, "image"),
    ("encode-3x3", lambda: encode_with_control(CodecControl(), torch.rand(1, 3, 3, 3), 3000.0), ValueError, "image"),
    (
        "pgd-nan-step",
        lambda: attacks.pgd(_model(), RGB, LABELS, 0.03, step_size=NAN),
        ValueError,
        "step_size",
    ),
    ("random-4-channels", lambda: RandomDiffJPEG((10, 90), p=0.5)(torch.rand(1, 4, 16, 16)), ValueError, "input"),
    ("width-70000", lambda: jpeg_file_size(torch.rand(1, 3, 1, 70000), 75.0), ValueError, "image"),
    ("bogus-subsampling", lambda: jpeg_decode(_coefficients(subsampling="bogus")), ValueError, "subsampling"),
    ("image-size-larger", lambda: jpeg_decode(_coefficients(image_size=(64, 64))), ValueError, "image_size"),
    ("heads-0", lambda: JPEGFileSizeRegressor(heads=0), ValueError, "heads"),
    ("depth-minus-1", lambda: JPEGFileSizeRegressor(depth=-1), ValueError, "depth"),
    (
        "loss-size-0",
        lambda: codec_control_loss(SIZES * 0, SIZES, torch.randn(2, 5), torch.randn(2, 5), TABLES, TABLES),
        ValueError,
        "predicted_bytes",
    ),
    (
        "loss-target-negative",
        lambda: codec_control_loss(SIZES, -SIZES, torch.randn(2, 5), torch.randn(2, 5), TABLES, TABLES),
        ValueError,
        "target_bytes",
    ),
    ("rounding-wrong-shape", lambda: diff_jpeg(RGB, 50.0, rounding=lambda x: x.sum()), ValueError, "rounding"),
    ("quality-negative", lambda: diff_jpeg(RGB, -1.0), ValueError, "quality"),
    ("quality-above-100", lambda: diff_jpeg(RGB, 101.0), ValueError, "quality"),
]


@pytest.mark.parametrize(("call", "error", "name"), [pytest.param(*c[1:], id=c[0]) for c in ISSUE])
def test_issue_reproducers(call, error, name):
    torch.manual_seed(0)
    with pytest.raises(error) as info:
        call()
    assert re.search(name, str(info.value)), str(info.value)


def test_random_gate_never_decides_validation():
    aug = RandomDiffJPEG((10, 90), p=0.5)
    for seed in range(12):  # with p = 0.5 some draws select no sample: the check must not depend on them
        torch.manual_seed(seed)
        with pytest.raises(ValueError, match="input image must have 1"):
            aug(torch.rand(1, 4, 16, 16))
        with pytest.raises(ValueError, match="input image must be finite"):
            aug(image(1, 3, 16, 16, at=(0, 0, 0, 0)))


def test_nan_batch_leaves_batch_norm_untouched():
    control = _control().train()
    before = {name: b.clone() for name, b in control.named_buffers()}
    with pytest.raises(ValueError, match="image must be finite"):
        control(torch.full((2, 3, 16, 16), NAN), torch.tensor([3000.0, 3000.0]))
    with pytest.raises(ValueError, match="target_bytes"):
        control(torch.rand(2, 3, 16, 16), torch.tensor([3000.0, NAN]))
    for name, buffer in control.named_buffers():
        assert torch.equal(buffer, before[name]), name
    control.eval()


# ---------------------------------------------------------------------------------------------
# Qualities, tables, choices: every codec entry point.
# ---------------------------------------------------------------------------------------------

CODEC_CALLS = {
    **{f"diff_jpeg-{m}": functools.partial(diff_jpeg, mode=m) for m in MODES},
    "jpeg_encode": jpeg_encode,
    "DiffJPEGCodec": lambda x, q=None, **k: DiffJPEGCodec()(x, q, **k),
    "jpeg_file_size": jpeg_file_size,
    "diff_jpeg_file_size": diff_jpeg_file_size,
    "DiffJPEGFileSize": lambda x, q=None, **k: DiffJPEGFileSize()(x, q, **k),
}

BAD_QUALITIES = [
    ("nan", NAN, ValueError),
    ("inf", INF, ValueError),
    ("-inf", -INF, ValueError),
    ("negative", -1, ValueError),
    ("tiny-negative", -1e-300, ValueError),
    ("above-100", 100.0001, ValueError),
    ("huge-int", 10**400, ValueError),
    ("huge-negative-int", -(10**400), ValueError),
    ("bool", True, TypeError),
    ("numpy-bool", np.bool_(True), TypeError),
    ("string", "75", TypeError),
    ("complex", 50 + 0j, TypeError),
    ("list", [50.0, 60.0], TypeError),
    ("numpy-array", np.array([50.0, 60.0]), TypeError),
    ("tensor-nan-one-sample", torch.tensor([50.0, NAN]), ValueError),
    ("tensor-inf", torch.tensor(INF), ValueError),
    ("tensor-negative", torch.tensor([-0.5, 50.0]), ValueError),
    ("tensor-uint8-255", torch.tensor([255, 255], dtype=torch.uint8), ValueError),
    ("tensor-int64-huge", torch.tensor([2**62, 50]), ValueError),
    ("tensor-bool", torch.tensor([True, False]), TypeError),
    ("tensor-complex", torch.tensor([50 + 1j, 50 + 0j]), TypeError),
    ("tensor-float8", torch.tensor([50.0, 60.0]).to(torch.float8_e4m3fn), TypeError),
    ("tensor-wrong-shape", torch.full((3,), 50.0), ValueError),
    ("tensor-2d", torch.full((2, 2), 50.0), ValueError),
    ("tensor-meta", torch.tensor(50.0, device="meta"), ValueError),
]


@pytest.mark.parametrize("entry", list(CODEC_CALLS))
@pytest.mark.parametrize(("quality", "error"), [pytest.param(q, e, id=k) for k, q, e in BAD_QUALITIES])
def test_bad_qualities(entry, quality, error):
    with pytest.raises(error, match="quality"):
        CODEC_CALLS[entry](RGB, quality)


BAD_TABLES = [
    ("zeros", torch.zeros(8, 8), ValueError),
    ("nan-one-entry", _set(TABLE, (3, 4), NAN), ValueError),
    ("inf-one-entry", _set(TABLE, (7, 7), INF), ValueError),
    ("-inf", _set(TABLE, (0, 0), -INF), ValueError),
    ("256", _set(TABLE, (0, 0), 256.0), ValueError),
    ("negative", -TABLE, ValueError),
    ("nan-one-sample", _set(TABLES, (1, 2, 2), NAN), ValueError),
    ("subnormal", _set(TABLE, (1, 1), 1e-45), ValueError),
    ("shape-64", torch.full((64,), 16.0), ValueError),
    ("shape-7x8", torch.full((7, 8), 16.0), ValueError),
    ("shape-3-batch", torch.full((3, 8, 8), 16.0), ValueError),
    ("bool", torch.ones(8, 8, dtype=torch.bool), TypeError),
    ("complex", torch.ones(8, 8, dtype=torch.complex64), TypeError),
    ("string", "annex-k", TypeError),
    ("object", object(), TypeError),
    ("meta", torch.ones(8, 8, device="meta"), ValueError),
    ("uint16-256", torch.full((8, 8), 256, dtype=torch.uint16), ValueError),  # no aminmax for these dtypes
    ("uint32-0", torch.zeros(8, 8, dtype=torch.uint32), ValueError),
    ("uint64-huge", torch.full((8, 8), 2**40, dtype=torch.uint64), ValueError),
]


@pytest.mark.parametrize("entry", list(CODEC_CALLS))
@pytest.mark.parametrize("name", ["qt_y", "qt_c"])
@pytest.mark.parametrize(("table", "error"), [pytest.param(t, e, id=k) for k, t, e in BAD_TABLES])
def test_bad_tables(entry, name, table, error):
    with pytest.raises(error, match=name):
        CODEC_CALLS[entry](RGB, 50.0, **{name: table})


@pytest.mark.parametrize("dtype", [torch.uint16, torch.uint32, torch.uint64])
def test_unsigned_integer_settings_are_checked_like_other_integers(dtype):
    """Tables and qualities of PyTorch's limited unsigned dtypes (no ``aminmax``) are checked (they raised
    NotImplementedError) and code as their int64 values do."""
    images = torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    qualities = torch.arange(300) % 100 + 1
    tables = torch.randint(1, 256, (300, 8, 8), generator=torch.Generator().manual_seed(1))
    for entry in ("diff_jpeg-ste", "diff_jpeg-exact", "jpeg_file_size"):
        call = CODEC_CALLS[entry]
        assert torch.equal(call(images, qualities.to(dtype)), call(images, qualities))
        assert torch.equal(call(images, qt_y=tables.to(dtype)), call(images, qt_y=tables))
        with pytest.raises(ValueError, match=r"quality must be finite and in \[0, 100\], got range \[2.0, 101.0\]"):
            call(images, (qualities + 1).to(dtype))
        with pytest.raises(ValueError, match=r"qt_y values must be finite and in \[1, 255\], got range \[0.0, 254.0\]"):
            call(images, qt_y=(tables - 1).to(dtype))
    samples = (images * 255).to(torch.uint8)
    assert encode_jpeg(samples, qt_y=tables.to(dtype)) == encode_jpeg(samples, qt_y=tables)


@pytest.mark.parametrize("entry", ["diff_jpeg-surrogate", "diff_jpeg-exact", "jpeg_file_size"])
def test_inf_in_chroma_table_only_without_quality(entry):
    with pytest.raises(ValueError, match=r"qt_c values must be finite.*infinite"):
        CODEC_CALLS[entry](RGB, qt_y=TABLE, qt_c=_set(TABLE, (5, 5), INF))


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"mode": "fast"}, ValueError, "mode"),
        ({"mode": None}, ValueError, "mode"),
        ({"subsampling": "4:1:1"}, ValueError, "subsampling"),
        ({"subsampling": 420}, ValueError, "subsampling"),
        ({"rounding": "round"}, ValueError, "rounding"),
        ({"rounding": 3}, ValueError, "rounding"),
        ({"rounding": lambda x: x[..., :1]}, ValueError, "rounding"),
        ({"rounding": lambda x: x.int()}, ValueError, "rounding"),
        ({"rounding": lambda x: 0.5}, ValueError, "rounding"),
        ({"rounding": lambda x: None}, ValueError, "rounding"),
        ({"rounding": int}, TypeError, "rounding"),
        ({"rounding": lambda x: x.unsqueeze(0)}, ValueError, "rounding"),
        ({"color": "jfif"}, TypeError, "color"),
        ({"color": (torch.eye(3), torch.zeros(2))}, ValueError, "color"),
    ],
)
@pytest.mark.parametrize("mode", ["surrogate", "ste"])
def test_bad_settings(kwargs, error, name, mode):
    kwargs = {"mode": mode, **kwargs}
    with pytest.raises(error, match=name):
        diff_jpeg(RGB, 50.0, **kwargs)


# ---------------------------------------------------------------------------------------------
# Hand-built JPEGCoefficients: jpeg_decode, jpeg_file_size and the regressor check them.
# ---------------------------------------------------------------------------------------------

_C = _coefficients()
_G = _coefficients(1)
BAD_COEFFICIENTS = [
    ("subsampling-bogus", dict(subsampling="bogus"), ValueError, "subsampling"),
    ("subsampling-none", dict(subsampling=None), ValueError, "subsampling"),
    ("image-size-larger", dict(image_size=(40, 56)), ValueError, "image_size"),
    ("image-size-smaller", dict(image_size=(8, 8)), ValueError, "image_size"),
    ("image-size-zero", dict(image_size=(0, 28)), ValueError, "image_size"),
    ("image-size-negative", dict(image_size=(-20, 28)), ValueError, "image_size"),
    ("image-size-huge", dict(image_size=(20, 70000)), ValueError, "image_size"),
    ("image-size-floats", dict(image_size=(20.0, 28.0)), TypeError, "image_size"),
    ("image-size-three", dict(image_size=(20, 28, 3)), TypeError, "image_size"),
    ("image-size-string", dict(image_size="20x28"), TypeError, "image_size"),
    ("chroma-wrong-grid", dict(chroma=_C.chroma[:, :, :1]), ValueError, "chroma"),
    ("chroma-one-plane", dict(chroma=_C.chroma[:, :1]), ValueError, "chroma"),
    ("chroma-for-other-subsampling", dict(subsampling="4:4:4"), ValueError, "chroma"),
    ("luma-4d", dict(luma=_C.luma[:, 0]), ValueError, "luma"),
    ("luma-int", dict(luma=_C.luma.round().int()), TypeError, "luma"),
    ("luma-not-a-tensor", dict(luma=_C.luma.numpy()), TypeError, "luma"),
    ("luma-nan", dict(luma=_set(_C.luma, (1, 0, 0, 0, 5), NAN)), ValueError, "luma"),
    ("chroma-inf", dict(chroma=_set(_C.chroma, (0, 1, 0, 0, 0), INF)), ValueError, "chroma"),
    ("qt-y-nan", dict(qt_y=_set(_C.qt_y, (0, 0, 0), NAN)), ValueError, "qt_y"),
    ("qt-c-zero", dict(qt_c=torch.zeros_like(_C.qt_c)), ValueError, "qt_c"),
    ("qt-y-shape", dict(qt_y=_C.qt_y[0]), ValueError, "qt_y"),
    ("qt-c-missing", dict(qt_c=None), ValueError, "qt_c"),
    ("qt-y-float64", dict(qt_y=_C.qt_y.double()), TypeError, "qt_y"),
    ("chroma-float16", dict(chroma=_C.chroma.half()), TypeError, "chroma"),
    ("chroma-on-meta", dict(chroma=_C.chroma.to("meta")), ValueError, "chroma"),
    ("luma-none", dict(luma=None), TypeError, "luma"),
    ("batch-shape-floats", dict(batch_shape=(2.0,)), TypeError, "batch_shape"),
    ("batch-shape-string", dict(batch_shape="2"), TypeError, "batch_shape"),
    ("batch-shape-mismatch", dict(batch_shape=(3,)), ValueError, "batch_shape"),
    ("batch-shape-negative", dict(batch_shape=(-2, -1)), TypeError, "batch_shape"),
    ("dtype-int", dict(dtype=torch.int32), TypeError, "dtype"),
    ("dtype-string", dict(dtype="float32"), TypeError, "dtype"),
]


@pytest.mark.parametrize(
    "entry",
    {
        **{f"jpeg_decode-{m}": functools.partial(jpeg_decode, mode=m) for m in MODES},
        "jpeg_file_size": jpeg_file_size,
        "regressor": lambda c: JPEGFileSizeRegressor(dim=16, depth=1, heads=2)(c),
    }.items(),
    ids=lambda item: item[0],
)
@pytest.mark.parametrize(("changes", "error", "name"), [pytest.param(*c[1:], id=c[0]) for c in BAD_COEFFICIENTS])
def test_bad_coefficients(entry, changes, error, name):
    with pytest.raises(error, match=name):
        entry[1](replace(_C, **changes))  # raised when built (luma, batch_shape) or when used


@pytest.mark.parametrize(
    ("changes", "name"),
    [
        (dict(qt_c=_C.qt_y[:2]), "qt_c"),
        (dict(chroma=_C.chroma), "qt_c"),
        (dict(chroma=_C.chroma[:, :, :, :1], qt_c=_C.qt_c), "chroma"),
        (dict(image_size=(30, 28)), "image_size"),
    ],
)
def test_bad_grayscale_coefficients(changes, name):
    with pytest.raises((TypeError, ValueError), match=name):
        jpeg_decode(replace(_G, **changes))


def test_exact_decode_rejects_coefficients_past_16_bits():
    with pytest.raises(ValueError, match=r"coefficients.luma must lie in \[-32767, 32767\]"):
        jpeg_decode(replace(_C, luma=_set(_C.luma, (0, 0, 0, 0, 0), 1e9)), mode="exact")


@pytest.mark.parametrize("coefficients", [RGB, None, "coefficients", {"luma": _C.luma}])
def test_decode_needs_coefficients(coefficients):
    with pytest.raises(TypeError, match="coefficients must be JPEGCoefficients"):
        jpeg_decode(coefficients)


# ---------------------------------------------------------------------------------------------
# File size, control, loss, regressor, attacks, augmentations: their own arguments.
# ---------------------------------------------------------------------------------------------

_MODEL = _model()
_JFIF = jfif_color()


def _replay(changes: dict) -> torch.Tensor:
    aug = RandomDiffJPEG((10, 90), p=1.0)
    aug(RGB)
    return aug(RGB, params={**aug._params, **changes})


OTHER = [
    # file size
    ("file-size-optimize-string", lambda: jpeg_file_size(RGB, 50.0, optimize="yes"), TypeError, "optimize"),
    ("file-size-coefficients-and-quality", lambda: jpeg_file_size(_C, 50.0), ValueError, "quality"),
    ("estimate-subsampling", lambda: diff_jpeg_file_size(RGB, 50.0, subsampling="4:1:1"), ValueError, "subsampling"),
    ("estimate-module-subsampling", lambda: DiffJPEGFileSize("420"), ValueError, "subsampling"),
    # regressor
    ("regressor-dim-0", lambda: JPEGFileSizeRegressor(dim=0), ValueError, "dim"),
    ("regressor-dim-6", lambda: JPEGFileSizeRegressor(dim=6, heads=2), ValueError, "dim"),
    ("regressor-dim-float", lambda: JPEGFileSizeRegressor(dim=64.5), TypeError, "dim"),
    ("regressor-heads-3", lambda: JPEGFileSizeRegressor(dim=64, heads=3), ValueError, "heads"),
    ("regressor-heads-bool", lambda: JPEGFileSizeRegressor(heads=True), TypeError, "heads"),
    ("regressor-heads-negative", lambda: JPEGFileSizeRegressor(heads=-4), ValueError, "heads"),
    ("regressor-class-depth", lambda: JPEGFileSizeRegressor(class_depth=-1), ValueError, "class_depth"),
    ("regressor-depth-string", lambda: JPEGFileSizeRegressor(depth="2"), TypeError, "depth"),
    ("regressor-image", lambda: JPEGFileSizeRegressor(dim=16, depth=1, heads=2)(RGB), TypeError, "coefficients"),
    ("size-loss-zero", lambda: file_size_loss(SIZES * 0, SIZES), ValueError, "predicted"),
    ("size-loss-nan-target", lambda: file_size_loss(SIZES, _set(SIZES, 0, NAN)), ValueError, "target"),
    ("size-loss-shapes", lambda: file_size_loss(SIZES, SIZES[:1]), ValueError, "target"),
    ("size-loss-list", lambda: file_size_loss(SIZES, [1.0, 2.0]), TypeError, "target"),
    (
        "size-loss-weight",
        lambda: file_size_loss(SIZES, SIZES, correlation_weight=NAN),
        ValueError,
        "correlation_weight",
    ),
    # control network
    ("control-width-0", lambda: CodecControl(width=0), ValueError, "width"),
    ("control-blocks-negative", lambda: CodecControl(blocks=-1), ValueError, "blocks"),
    ("control-width-bool", lambda: CodecControl(width=True), TypeError, "width"),
    ("control-size-range-zero", lambda: CodecControl(size_range=(0.0, 1000.0)), ValueError, "size_range"),
    ("control-size-range-nan", lambda: CodecControl(size_range=(NAN, 1000.0)), ValueError, "size_range"),
    ("control-size-range-inf", lambda: CodecControl(size_range=(1000.0, INF)), ValueError, "size_range"),
    ("control-size-range-reversed", lambda: CodecControl(size_range=(2000.0, 1000.0)), ValueError, "size_range"),
    ("control-size-range-string", lambda: CodecControl(size_range="1k-20k"), TypeError, "size_range"),
    ("control-backbone", lambda: CodecControl(backbone="resnet"), TypeError, "backbone"),
    ("control-gray", lambda: _control()(torch.rand(2, 1, 16, 16), SIZES), ValueError, "image"),
    ("control-target-nan", lambda: _control()(RGB, torch.tensor([NAN, 3000.0])), ValueError, "target_bytes"),
    ("control-target-zero", lambda: _control()(RGB, torch.tensor([0.0, 3000.0])), ValueError, "target_bytes"),
    ("control-target-inf", lambda: _control()(RGB, INF), ValueError, "target_bytes"),
    ("control-target-negative-number", lambda: _control()(RGB, -5), ValueError, "target_bytes"),
    ("control-target-shape", lambda: _control()(RGB, torch.full((3,), 3000.0)), ValueError, "target_bytes"),
    ("control-target-bool", lambda: _control()(RGB, torch.tensor([True, True])), TypeError, "target_bytes"),
    ("control-target-string", lambda: _control()(RGB, "3000"), TypeError, "target_bytes"),
    ("control-target-meta", lambda: _control()(RGB, torch.ones(2, device="meta")), ValueError, "target_bytes"),
    ("encode-control-type", lambda: encode_with_control(_MODEL, RGB, 3000.0), TypeError, "control"),
    (
        "encode-fit-size-string",
        lambda: encode_with_control(_control(), RGB, 3000.0, fit_size="y"),
        TypeError,
        "fit_size",
    ),
    ("encode-subsampling", lambda: encode_with_control(_control(), RGB, 3000.0, "4:1:1"), ValueError, "subsampling"),
    ("encode-target-nan", lambda: encode_with_control(_control(), RGB, NAN), ValueError, "target_bytes"),
    ("encode-gray", lambda: encode_with_control(_control(), torch.rand(2, 1, 16, 16), 3000.0), ValueError, "image"),
    # fit
    ("fit-steps-0", lambda: fit_tables_to_size(RGB, TABLES, TABLES, 3000.0, steps=0), ValueError, "steps"),
    ("fit-steps-huge", lambda: fit_tables_to_size(RGB, TABLES, TABLES, 3000.0, steps=10**9), ValueError, "steps"),
    ("fit-steps-bool", lambda: fit_tables_to_size(RGB, TABLES, TABLES, 3000.0, steps=True), TypeError, "steps"),
    ("fit-steps-float", lambda: fit_tables_to_size(RGB, TABLES, TABLES, 3000.0, steps=2.5), TypeError, "steps"),
    ("fit-steps-nan", lambda: fit_tables_to_size(RGB, TABLES, TABLES, 3000.0, steps=NAN), TypeError, "steps"),
    ("fit-qt-c-inf", lambda: fit_tables_to_size(RGB, TABLES, _set(TABLES, (1, 0, 0), INF), 3000.0), ValueError, "qt_c"),
    ("fit-qt-y-256", lambda: fit_tables_to_size(RGB, TABLES * 16, TABLES, 3000.0), ValueError, "qt_y"),
    ("fit-qt-y-shape", lambda: fit_tables_to_size(RGB, TABLE, TABLES, 3000.0), ValueError, "qt_y"),
    ("fit-qt-c-bool", lambda: fit_tables_to_size(RGB, TABLES, TABLES > 0, 3000.0), TypeError, "qt_c"),
    ("fit-qt-y-list", lambda: fit_tables_to_size(RGB, TABLES.tolist(), TABLES, 3000.0), TypeError, "qt_y"),
    ("fit-target-zero", lambda: fit_tables_to_size(RGB, TABLES, TABLES, 0.0), ValueError, "target_bytes"),
    ("fit-target-inf", lambda: fit_tables_to_size(RGB, TABLES, TABLES, torch.tensor([INF, 1.0])), ValueError, "target"),
    ("fit-subsampling", lambda: fit_tables_to_size(RGB, TABLES, TABLES, 3000.0, "bogus"), ValueError, "subsampling"),
    # loss
    (
        "loss-sizes-int",
        lambda: codec_control_loss(SIZES.long(), SIZES, RGB, RGB, TABLES, TABLES),
        TypeError,
        "predicted",
    ),
    (
        "loss-sizes-nan",
        lambda: codec_control_loss(_set(SIZES, 0, NAN), SIZES, RGB, RGB, TABLES, TABLES),
        ValueError,
        "predicted",
    ),
    (
        "loss-sizes-inf",
        lambda: codec_control_loss(SIZES, _set(SIZES, 1, INF), RGB, RGB, TABLES, TABLES),
        ValueError,
        "target",
    ),
    (
        "loss-sizes-2d",
        lambda: codec_control_loss(SIZES[:, None], SIZES, RGB, RGB, TABLES, TABLES),
        ValueError,
        "predicted",
    ),
    (
        "loss-empty",
        lambda: codec_control_loss(SIZES[:0], SIZES[:0], RGB, RGB, TABLES[:0], TABLES[:0]),
        ValueError,
        "predicted",
    ),
    ("loss-batch", lambda: codec_control_loss(SIZES, SIZES[:1], RGB, RGB, TABLES, TABLES), ValueError, "target_bytes"),
    (
        "loss-table-nan",
        lambda: codec_control_loss(SIZES, SIZES, RGB, RGB, _set(TABLES, 0, NAN), TABLES),
        ValueError,
        "qt_y",
    ),
    ("loss-table-shape", lambda: codec_control_loss(SIZES, SIZES, RGB, RGB, TABLES, TABLE), ValueError, "qt_c"),
    (
        "loss-weight-nan",
        lambda: codec_control_loss(SIZES, SIZES, RGB, RGB, TABLES, TABLES, size_weight=NAN),
        ValueError,
        "size_weight",
    ),
    (
        "loss-weight-negative",
        lambda: codec_control_loss(SIZES, SIZES, RGB, RGB, TABLES, TABLES, table_weight=-1.0),
        ValueError,
        "table_weight",
    ),
    (
        "loss-weight-bool",
        lambda: codec_control_loss(SIZES, SIZES, RGB, RGB, TABLES, TABLES, condition_weight=True),
        TypeError,
        "condition_weight",
    ),
    (
        "loss-margin-nan",
        lambda: codec_control_loss(SIZES, SIZES, RGB, RGB, TABLES, TABLES, size_margin=NAN),
        ValueError,
        "size_margin",
    ),
    (
        "loss-margin-order",
        lambda: codec_control_loss(SIZES, SIZES, RGB, RGB, TABLES, TABLES, condition_margin=0.5),
        ValueError,
        "margin",
    ),
    (
        "loss-std-inf",
        lambda: codec_control_loss(SIZES, SIZES, RGB, RGB, TABLES, TABLES, table_std=INF),
        ValueError,
        "table_std",
    ),
    (
        "loss-performance",
        lambda: codec_control_loss(SIZES, SIZES, RGB, RGB, TABLES, TABLES, performance_loss=3),
        TypeError,
        "performance_loss",
    ),
    ("bootstrap-quality-nan", lambda: bootstrap_loss(TABLES, TABLES, torch.tensor([NAN, 50.0])), ValueError, "quality"),
    (
        "bootstrap-quality-negative",
        lambda: bootstrap_loss(TABLES, TABLES, torch.tensor([-1.0, 50.0])),
        ValueError,
        "quality",
    ),
    (
        "bootstrap-quality-101",
        lambda: bootstrap_loss(TABLES, TABLES, torch.tensor([101.0, 50.0])),
        ValueError,
        "quality",
    ),
    ("bootstrap-quality-float", lambda: bootstrap_loss(TABLES, TABLES, 50.0), TypeError, "quality"),
    (
        "bootstrap-quality-bool",
        lambda: bootstrap_loss(TABLES, TABLES, torch.tensor([True, True])),
        TypeError,
        "quality",
    ),
    ("bootstrap-empty", lambda: bootstrap_loss(TABLES[:0], TABLES[:0], torch.zeros(0)), ValueError, "quality"),
    (
        "bootstrap-table-shape",
        lambda: bootstrap_loss(TABLES, TABLES[:1], torch.tensor([50.0, 50.0])),
        ValueError,
        "qt_c",
    ),
    (
        "bootstrap-table-inf",
        lambda: bootstrap_loss(TABLES + INF, TABLES, torch.tensor([50.0, 50.0])),
        ValueError,
        "qt_y",
    ),
    ("targets-batch-negative", lambda: binned_target_sizes(-1, 1000.0, 2000.0), ValueError, "batch"),
    ("targets-batch-float", lambda: binned_target_sizes(2.5, 1000.0, 2000.0), TypeError, "batch"),
    ("targets-batch-bool", lambda: binned_target_sizes(True, 1000.0, 2000.0), TypeError, "batch"),
    ("targets-low-zero", lambda: binned_target_sizes(4, 0.0, 2000.0), ValueError, "low"),
    ("targets-low-nan", lambda: binned_target_sizes(4, NAN, 2000.0), ValueError, "low"),
    ("targets-high-inf", lambda: binned_target_sizes(4, 1000.0, INF), ValueError, "high"),
    ("targets-reversed", lambda: binned_target_sizes(4, 2000.0, 1000.0), ValueError, "low"),
    ("targets-generator", lambda: binned_target_sizes(4, 1000.0, 2000.0, generator=0), TypeError, "generator"),
    ("pseudo-label-shapes", lambda: pseudo_label_cross_entropy(torch.rand(2), torch.rand(2, 10)), ValueError, "output"),
    (
        "pseudo-label-mismatch",
        lambda: pseudo_label_cross_entropy(torch.rand(2, 5), torch.rand(2, 10)),
        ValueError,
        "reference",
    ),
    (
        "pseudo-label-int",
        lambda: pseudo_label_cross_entropy(torch.ones(2, 10, dtype=torch.long), torch.rand(2, 10)),
        TypeError,
        "output",
    ),
    (
        "pseudo-label-labels",
        lambda: pseudo_label_cross_entropy(torch.rand(2, 10), torch.tensor([1, 2])),
        TypeError,
        "reference",
    ),
    ("standard-tables-list", lambda: standard_tables([50.0]), TypeError, "quality"),
    ("standard-tables-bool", lambda: standard_tables(torch.tensor([True])), TypeError, "quality"),
    ("standard-tables-nan", lambda: standard_tables(torch.tensor([50.0, NAN])), ValueError, "quality"),
    ("standard-tables-past-100", lambda: standard_tables(torch.tensor([101.0])), ValueError, "quality"),
    ("standard-tables-negative", lambda: standard_tables(torch.tensor([-1.0])), ValueError, "quality"),
    ("integer-tables-number", lambda: integer_tables(8.0), TypeError, "table"),
    ("integer-tables-complex", lambda: integer_tables(torch.ones(8, 8, dtype=torch.complex64)), TypeError, "table"),
    ("integer-tables-nan", lambda: integer_tables(torch.full((8, 8), NAN)), ValueError, "table"),
    ("integer-tables-inf", lambda: integer_tables(torch.full((8, 8), INF)), ValueError, "table"),
    # attacks
    ("attack-model", lambda: attacks.fgsm("resnet", RGB, LABELS, 0.03), TypeError, "model"),
    ("attack-labels-float", lambda: attacks.fgsm(_MODEL, RGB, LABELS.float(), 0.03), TypeError, "labels"),
    ("attack-labels-negative", lambda: attacks.fgsm(_MODEL, RGB, torch.tensor([-1, 2]), 0.03), ValueError, "labels"),
    ("attack-labels-shape", lambda: attacks.fgsm(_MODEL, RGB, LABELS[:1], 0.03), ValueError, "labels"),
    ("attack-labels-past-classes", lambda: attacks.ifgsm(_MODEL, RGB, torch.tensor([1, 10]), 0.03), ValueError, "< 10"),
    ("attack-model-output-shape", lambda: attacks.pgd(torch.nn.Flatten(0), RGB, LABELS, 0.03), ValueError, "model"),
    ("attack-eps-nan", lambda: attacks.fgsm(_MODEL, RGB, LABELS, NAN), ValueError, "eps"),
    ("attack-eps-inf", lambda: attacks.pgd(_MODEL, RGB, LABELS, INF), ValueError, "eps"),
    ("attack-eps-255-scale", lambda: attacks.ifgsm(_MODEL, RGB, LABELS, 3.0), ValueError, "eps"),
    ("attack-eps-negative", lambda: attacks.fgsm(_MODEL, RGB, LABELS, -0.01), ValueError, "eps"),
    ("attack-eps-tensor", lambda: attacks.fgsm(_MODEL, RGB, LABELS, torch.tensor(0.03)), ValueError, "eps"),
    ("attack-steps-0", lambda: attacks.ifgsm(_MODEL, RGB, LABELS, 0.03, steps=0), ValueError, "steps"),
    ("attack-steps-float", lambda: attacks.pgd(_MODEL, RGB, LABELS, 0.03, steps=2.0), ValueError, "steps"),
    ("attack-step-inf", lambda: attacks.pgd(_MODEL, RGB, LABELS, 0.03, step_size=INF), ValueError, "step_size"),
    ("attack-step-zero", lambda: attacks.pgd(_MODEL, RGB, LABELS, 0.03, step_size=0.0), ValueError, "step_size"),
    ("attack-step-bool", lambda: attacks.pgd(_MODEL, RGB, LABELS, 0.03, step_size=True), TypeError, "step_size"),
    ("attack-jpeg", lambda: attacks.fgsm(_MODEL, RGB, LABELS, 0.03, jpeg="jpeg"), TypeError, "jpeg"),
    ("attack-generator", lambda: attacks.pgd(_MODEL, RGB, LABELS, 0.03, generator=0), TypeError, "generator"),
    ("attack-3d-images", lambda: attacks.fgsm(_MODEL, RGB[0], LABELS[:1], 0.03), ValueError, "images"),
    # augmentations
    ("aug-quality-nan", lambda: DiffJPEG(NAN), ValueError, "quality"),
    ("aug-quality-range-nan", lambda: RandomDiffJPEG((NAN, 50.0)), ValueError, "quality"),
    ("aug-quality-101", lambda: RandomDiffJPEG((50.0, 101.0)), ValueError, "quality"),
    ("aug-quality-negative", lambda: DiffJPEG(-0.5), ValueError, "quality"),
    ("aug-p-nan", lambda: DiffJPEG(50.0, p=NAN), ValueError, "p"),
    ("aug-p-1.5", lambda: RandomDiffJPEG((10, 90), p=1.5), ValueError, "p"),
    ("aug-table-nan", lambda: DiffJPEG(50.0, qt_y=_set(TABLE, (0, 0), NAN)), ValueError, "qt_y"),
    ("aug-table-zero", lambda: RandomDiffJPEG((10, 90), qt_c=torch.zeros(8, 8)), ValueError, "qt_c"),
    ("aug-5d-input", lambda: DiffJPEG(50.0)(torch.rand(1, 2, 3, 16, 16)), ValueError, "input"),
    ("aug-1d-input", lambda: DiffJPEG(50.0)(torch.rand(16)), ValueError, "input"),
    ("aug-uint8-input", lambda: DiffJPEG(50.0)(torch.zeros(3, 16, 16, dtype=torch.uint8)), TypeError, "input"),
    ("aug-replay-nan-draw", lambda: _replay({"quality_u": torch.tensor([0.5, NAN])}), ValueError, "quality_u"),
    ("aug-replay-draw-above-1", lambda: _replay({"quality_u": torch.tensor([0.5, 3.0])}), ValueError, "quality_u"),
    ("aug-replay-not-a-dict", lambda: DiffJPEG(50.0)(RGB, params=[1, 2]), TypeError, "params"),
    # color
    ("color-nan", lambda: diff_jpeg(RGB, 50.0, color=(_JFIF[0] * NAN, _JFIF[1])), ValueError, "color matrix"),
    ("color-inf-offset", lambda: diff_jpeg(RGB, 50.0, color=(_JFIF[0], _JFIF[1] + INF)), ValueError, "color offset"),
    ("color-singular", lambda: diff_jpeg(RGB, 50.0, color=(torch.ones(3, 3), _JFIF[1])), ValueError, "color matrix"),
    (
        "decode-color-nan",
        lambda: jpeg_decode(_C, color=(_JFIF[0], _JFIF[1] * NAN)),
        ValueError,
        "color offset",
    ),
    # the switch
    ("set-validation-int", lambda: set_validation(0), TypeError, "enabled"),
    ("set-validation-string", lambda: set_validation("off"), TypeError, "enabled"),
    # NumPy bools for flags: the message names their type (it said "must be a bool, got bool")
    ("quality-numpy-bool", lambda: diff_jpeg(RGB, np.bool_(True)), TypeError, r"quality.*got numpy\.bool"),
    ("set-validation-numpy-bool", lambda: set_validation(np.bool_(False)), TypeError, r"enabled.*got numpy\.bool"),
    ("optimize-numpy-bool", lambda: kd.encode_jpeg(RGB, 50.0, optimize=np.bool_(True)), TypeError, r"optimize.*numpy"),
    (
        "size-optimize-numpy-bool",
        lambda: jpeg_file_size(RGB, 50.0, optimize=np.bool_(True)),
        TypeError,
        r"optimize.*numpy",
    ),
    ("same-on-batch-numpy-bool", lambda: RandomDiffJPEG((10, 90), same_on_batch=np.bool_(True)), TypeError, r"numpy"),
    (
        "fit-size-numpy-bool",
        lambda: encode_with_control(_control(), RGB, 3000.0, fit_size=np.bool_(True)),
        TypeError,
        r"fit_size.*numpy",
    ),
]


@pytest.mark.parametrize(("call", "error", "name"), [pytest.param(*c[1:], id=c[0]) for c in OTHER])
def test_other_arguments(call, error, name):
    with pytest.raises(error) as info:
        call()
    assert re.search(name, str(info.value)), str(info.value)


def test_learnable_setting_gone_nan_is_reported():
    aug = DiffJPEG(50.0, learnable=True)
    with torch.no_grad():
        aug.quality_logit.fill_(NAN)
    with pytest.raises(ValueError, match="quality_logit must be finite"):
        aug(RGB)


def test_control_with_nan_parameters_writes_no_file():
    control = CodecControl(width=16, blocks=1)
    with torch.no_grad():
        control.out.bias.fill_(NAN)
    with pytest.raises(ValueError, match="control predicted non-finite tables"):
        encode_with_control(control, RGB, 3000.0)


# ---------------------------------------------------------------------------------------------
# Valid edge cases keep working.
# ---------------------------------------------------------------------------------------------


class TestEmptyBatches:
    EMPTY = torch.rand(0, 3, 16, 16)

    @pytest.mark.parametrize("mode", MODES)
    def test_codec(self, mode):
        assert diff_jpeg(self.EMPTY, 50.0, mode=mode).shape == (0, 3, 16, 16)
        assert jpeg_decode(jpeg_encode(self.EMPTY, 50.0, mode=mode), mode=mode).shape == (0, 3, 16, 16)

    def test_file_sizes(self):
        for optimize in (False, True):
            sizes = jpeg_file_size(self.EMPTY, 50.0, optimize=optimize)
            assert sizes.shape == (0,) and sizes.dtype == torch.int64
        assert jpeg_file_size(jpeg_encode(torch.rand(2, 0, 1, 16, 16), 50.0)).shape == (2, 0)
        assert diff_jpeg_file_size(self.EMPTY, 50.0).shape == (0,)
        assert DiffJPEGFileSize()(self.EMPTY, 50.0).shape == (0,)
        assert JPEGFileSizeRegressor(dim=16, depth=1, heads=2)(jpeg_encode(self.EMPTY, 50.0)).shape == (0,)

    def test_control(self):
        assert encode_with_control(_control(), self.EMPTY, 3000.0) == []
        assert encode_with_control(_control(), self.EMPTY, 3000.0, fit_size=True) == []
        qt_y, qt_c = _control()(self.EMPTY, torch.zeros(0))
        assert qt_y.shape == qt_c.shape == (0, 8, 8)
        qt_y, qt_c = fit_tables_to_size(self.EMPTY, torch.zeros(0, 8, 8) + 9, torch.zeros(0, 8, 8) + 9, 3000.0)
        assert qt_y.shape == (0, 8, 8)
        assert binned_target_sizes(0, 1000.0, 2000.0).shape == (0,)

    def test_augmentations(self):
        assert DiffJPEG(50.0)(self.EMPTY).shape == (0, 3, 16, 16)
        assert RandomDiffJPEG((10, 90), p=0.5)(self.EMPTY).shape == (0, 3, 16, 16)


class TestQualityZero:
    """libjpeg codes quality <= 0 as 1 (jcparam.c); OpenCV and Pillow take 0 and write quality 1's file."""

    def test_real_codecs_write_quality_1_for_0(self):
        array = to_uint8(image(3, 24, 32))
        assert opencv_encode(array, 0) == opencv_encode(array, 1)
        assert pillow_encode(array, quality=0) == pillow_encode(array, quality=1)

    @pytest.mark.parametrize("subsampling", ["4:2:0", "4:4:4"])
    @pytest.mark.parametrize("optimize", [False, True])
    def test_file_size_and_pixels_match_opencv_at_0(self, subsampling, optimize):
        array = to_uint8(image(3, 24, 32))
        x = from_uint8(array)[None]
        size = int(jpeg_file_size(x, 0.0, subsampling=subsampling, optimize=optimize)[0])
        assert size == len(opencv_encode(array, 0, subsampling, optimize))
        coded = to_uint8(diff_jpeg(x, 0, mode="exact", subsampling=subsampling)[0])
        assert np.array_equal(coded, opencv_jpeg(array, 0, subsampling))

    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("zero", [0, 0.0, -0.0, 0.4, 5e-324, torch.tensor([0.0, 0.0])])
    def test_same_as_quality_1(self, mode, zero):
        assert torch.equal(diff_jpeg(RGB, zero, mode=mode), diff_jpeg(RGB, 1.0, mode=mode))

    def test_one_sided_gradient(self):
        # Below 1 the table is quality 1's; the quality's gradient is the one at quality 1 (from above).
        grads = []
        for start in (0.0, 1.0):
            quality = torch.tensor([start, start], requires_grad=True)
            diff_jpeg(RGB, quality).square().sum().backward()
            grads.append(quality.grad)
        assert torch.isfinite(grads[0]).all() and bool((grads[0] != 0).all())
        torch.testing.assert_close(grads[0], grads[1])

    def test_augmentation_range_from_0(self):
        out = RandomDiffJPEG((0, 99), p=1.0)(RGB)
        assert bool(torch.isfinite(out).all())


def test_half_precision_and_float64_through_networks():
    for dtype in (torch.float16, torch.bfloat16, torch.float64):
        x = RGB.to(dtype)
        qt_y, qt_c = _control()(x, SIZES)
        assert qt_y.dtype == torch.float32 and bool(torch.isfinite(qt_y).all())
        assert len(encode_with_control(_control(), x, SIZES)) == 2
        size = JPEGFileSizeRegressor(dim=16, depth=1, heads=2)(jpeg_encode(x, 50.0))
        assert bool(torch.isfinite(size).all())
    half = JPEGFileSizeRegressor(dim=16, depth=1, heads=2).half()
    assert half(jpeg_encode(RGB, 50.0)).dtype == torch.float16


@pytest.mark.parametrize("mode", MODES)
def test_vmap(mode):
    batched = torch.func.vmap(functools.partial(diff_jpeg, quality=50.0, mode=mode))(RGB)
    torch.testing.assert_close(batched, diff_jpeg(RGB, 50.0, mode=mode))


def test_vmap_gradient():
    gradient = torch.func.vmap(torch.func.grad(lambda x: diff_jpeg(x, 50.0).sum()))(RGB)
    x = RGB.clone().requires_grad_()
    diff_jpeg(x, 50.0).sum().backward()
    torch.testing.assert_close(gradient, x.grad)


def test_values_unchecked_on_meta_device():
    # No data to read: shapes are still checked, values are not.
    with pytest.raises(ValueError, match="channels"):
        diff_jpeg(torch.empty(2, 4, 16, 16, device="meta"), 50.0)


@pytest.mark.parametrize("call", [encode_jpeg, jpeg_file_size])
@pytest.mark.parametrize("as_coefficients", [False, True])
def test_files_need_values_not_the_meta_device(call, as_coefficients):
    image = torch.empty(2, 3, 16, 16, device="meta")
    given = jpeg_encode(image, 50.0, mode="exact") if as_coefficients else image
    with pytest.raises(ValueError, match="image is on the meta device"):
        call(given) if as_coefficients else call(given, 50.0)


def test_warns_on_the_0_255_scale():
    with pytest.warns(UserWarning, match=r"image values reach 2\d\d.*must be in \[0, 1\].*divide 0..255 images by 255"):
        diff_jpeg(RGB * 255.0, 50.0)
    with pytest.warns(UserWarning, match=r"image values reach -\d.*map normalized images back"):
        diff_jpeg(RGB * 2.0 - 1.0, 50.0)  # [-1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diff_jpeg(RGB * 1.2 - 0.1, 50.0)  # slightly out of range (e.g. noise): clipped without a warning
        with set_validation(False):
            diff_jpeg(RGB * 255.0, 50.0)  # the switch silences it too


def test_switch_off_skips_value_checks_only():
    with set_validation(False):
        diff_jpeg(image(1, 3, 8, 8, at=(0, 0, 0, 0)), 50.0)  # the user vouched for the values
        with pytest.raises(ValueError, match="channels"):
            diff_jpeg(torch.rand(1, 4, 8, 8), 50.0)


# ---------------------------------------------------------------------------------------------
# Cost: one host sync per call with validation on, none with it off; never twice.
# ---------------------------------------------------------------------------------------------

SYNC_CALLS = {
    **{f"diff_jpeg-{m}": functools.partial(diff_jpeg, mode=m) for m in MODES},
    **{f"jpeg_encode-{m}": functools.partial(jpeg_encode, mode=m) for m in MODES},
    "DiffJPEGCodec": lambda x, q: DiffJPEGCodec(mode="exact")(x, q),
    "diff_jpeg_file_size": diff_jpeg_file_size,
    "DiffJPEG": lambda x, q: DiffJPEG(50.0)(x),
    "RandomDiffJPEG": lambda x, q: RandomDiffJPEG((10, 90), p=1.0)(x),
}


@pytest.mark.parametrize("entry", list(SYNC_CALLS))
@pytest.mark.parametrize("quality", [50.0, torch.tensor([30.0, 70.0])], ids=["number", "tensor"])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_one_host_sync_per_call(entry, quality, requires_grad):
    x = RGB.clone().requires_grad_(requires_grad)
    with HostSyncCounter() as on:
        out = SYNC_CALLS[entry](x, quality)
    with set_validation(False), HostSyncCounter() as off:
        SYNC_CALLS[entry](x, quality)
    assert on.total == 1, dict(on.kinds)
    assert off.total == 0, dict(off.kinds)
    if requires_grad and isinstance(out, torch.Tensor):
        with HostSyncCounter() as backward:
            out.sum().backward()
        assert backward.total == 0, dict(backward.kinds)


def test_file_size_pays_one_sync_for_checks():
    # The exact counter needs its own two (symbol and ZRL counts); the checks add one.
    with HostSyncCounter() as on:
        jpeg_file_size(RGB, 50.0)
    with set_validation(False), HostSyncCounter() as off:
        jpeg_file_size(RGB, 50.0)
    assert on.total - off.total == 1, (dict(on.kinds), dict(off.kinds))


def test_compile_skips_value_checks():
    # While torch.compile traces, value checks are skipped: no graph break, no sync.
    seen = []

    @torch.compile(backend="eager", fullgraph=True)
    def traced(x):
        seen.append(kd._checks.values_checkable())
        return x * 2

    traced(RGB)
    assert seen == [False]


def test_checked_codec_compiles_in_one_graph():
    # The entry points' checks (and quality 0's clamp) trace without a graph break.
    compiled = torch.compile(diff_jpeg, fullgraph=True, backend="eager")
    quality = torch.tensor([0.0, 60.0])
    torch.testing.assert_close(compiled(RGB, quality), diff_jpeg(RGB, quality))


# ---------------------------------------------------------------------------------------------
# Hypothesis: non-finite and extreme values anywhere.
# ---------------------------------------------------------------------------------------------

non_finite = st.sampled_from([NAN, INF, -INF])
out_of_quality_range = st.one_of(
    non_finite,
    st.floats(max_value=-1e-320, allow_nan=False, allow_infinity=False),
    st.floats(min_value=100.00001, allow_nan=False, allow_infinity=False),
    st.integers(min_value=101),
    st.integers(max_value=-1),
)
valid_quality = st.one_of(st.floats(0.0, 100.0), st.integers(0, 100), st.just(5e-324), st.just(-0.0))


@settings(max_examples=40, deadline=None)
@given(quality=out_of_quality_range, mode=st.sampled_from(MODES))
def test_hypothesis_qualities_out_of_range(quality, mode):
    as_float = float(quality) if abs(quality) < 1e300 else math.copysign(INF, quality)
    for value in (quality, torch.tensor([50.0, as_float], dtype=torch.float64)):
        with pytest.raises(ValueError, match="quality must be finite and in"):
            diff_jpeg(RGB, value, mode=mode)


@settings(max_examples=25, deadline=None)
@given(quality=valid_quality, mode=st.sampled_from(MODES))
def test_hypothesis_valid_qualities_give_finite_images(quality, mode):
    out = diff_jpeg(RGB, quality, mode=mode)
    assert bool(torch.isfinite(out).all())


@settings(max_examples=40, deadline=None)
@given(
    value=non_finite,
    sample=st.integers(0, 1),
    channel=st.integers(0, 2),
    row=st.integers(0, 15),
    col=st.integers(0, 15),
    dtype=st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64]),
    entry=st.sampled_from(["diff_jpeg-surrogate", "diff_jpeg-exact", "jpeg_encode-ste", "jpeg_file_size", "DiffJPEG"]),
)
def test_hypothesis_one_non_finite_pixel(value, sample, channel, row, col, dtype, entry):
    x = _set(RGB, (sample, channel, row, col), value).to(dtype)
    with pytest.raises(ValueError, match="must be finite"):
        IMAGE_ENTRY_POINTS[entry](x)


@settings(max_examples=40, deadline=None)
@given(
    value=st.one_of(non_finite, st.floats(max_value=0.99999), st.floats(min_value=255.00001)),
    index=st.tuples(st.integers(0, 7), st.integers(0, 7)),
    name=st.sampled_from(["qt_y", "qt_c"]),
)
def test_hypothesis_table_entries_out_of_range(value, index, name):
    tables = {"qt_y": TABLE, "qt_c": TABLE, name: _set(TABLE.double(), index, value)}
    with pytest.raises(ValueError, match=rf"{name} values must be finite and in \[1, 255\]"):
        diff_jpeg(RGB, **tables)


@settings(max_examples=30, deadline=None)
@given(value=st.one_of(non_finite, st.floats(max_value=0.0), st.integers(max_value=0)))
def test_hypothesis_sizes_not_positive(value):
    sizes = _set(SIZES.double(), 1, float(value) if abs(value) < 1e300 else -INF)
    with pytest.raises(ValueError, match="target_bytes must be positive and finite"):
        codec_control_loss(SIZES.double(), sizes, RGB, RGB, TABLES, TABLES)
    with pytest.raises(ValueError, match="target_bytes"):
        _control()(RGB, sizes)


@settings(max_examples=30, deadline=None)
@given(side=st.integers(65501, 2**31), axis=st.sampled_from([-1, -2]))
def test_hypothesis_sides_past_limit(side, axis):
    shape = [1, 1, 1, 1]
    shape[axis] = side
    x = torch.zeros(1).expand(shape)  # no memory: a broadcast view
    with pytest.raises(ValueError, match="image sides must be at most 65500"):
        jpeg_encode(x, 50.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: diff_jpeg(x, 50.0),
        lambda x: encode_jpeg(x, 50.0),
        lambda x: jpeg_file_size(x, 50.0),
        lambda x: encode_jpeg([x[0], x[0, :, :8]], 50.0),
        lambda x: DiffJPEG(50.0)(x),
        lambda x: kornia.augmentation.AugmentationSequential(DiffJPEG(50.0))(x),
    ],
)
def test_scale_warning_points_at_the_callers_line(call):
    with pytest.warns(UserWarning, match="values reach") as caught:
        call(RGB * 255.0)
    assert caught[0].filename == __file__


# ---------------------------------------------------------------------------------------------
# Codec audit: inputs that crashed deep inside, or gave NaN from finite values.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_coefficients_decode_in_float32(mode, dtype):
    # linalg.inv has no half kernels: hand-converted blocks and tables failed in the smooth face's decoder.
    coded = jpeg_encode(image(2, 3, 20, 28), 60.0, mode="exact")
    half = replace(coded, luma=coded.luma.to(dtype), chroma=coded.chroma.to(dtype), qt_y=coded.qt_y.to(dtype))
    half = replace(half, qt_c=coded.qt_c.to(dtype))
    torch.testing.assert_close(jpeg_decode(half, mode=mode), jpeg_decode(coded, mode=mode), rtol=0, atol=0)


@pytest.mark.parametrize(
    "color",
    [
        pytest.param((jfif_color()[0].to(torch.float8_e4m3fn), jfif_color()[1]), id="float8"),
        pytest.param((jfif_color()[0].to_sparse(), jfif_color()[1]), id="sparse"),
    ],
)
@pytest.mark.parametrize(
    "call", [lambda c: diff_jpeg(RGB, 50.0, color=c), lambda c: jpeg_decode(_coefficients(), color=c)]
)
def test_color_of_unsupported_dtype_or_layout(call, color):
    with pytest.raises(TypeError, match="color matrix and offset"):
        call(color)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("value", "dtype"),
    [(3.4e38, torch.float32), (-3.0e38, torch.bfloat16), (1e300, torch.float64), (1e7, torch.float32)],
)
def test_finite_images_too_large_to_code_are_rejected(mode, value, dtype):
    # They were coded to NaN (the 0..255 scaling and the transforms overflow) in the smooth face.
    x = torch.full((1, 3, 8, 8), value, dtype=dtype)
    with pytest.raises(ValueError, match=r"image values must lie in \[-1e\+06, 1e\+06\]"):
        diff_jpeg(x, 50.0, mode=mode)


@pytest.mark.parametrize("mode", MODES)
def test_largest_accepted_images_code_to_finite_values_and_gradients(mode):
    x = (image(2, 3, 16, 16) * 2e6 - 1e6).requires_grad_()
    quality = torch.tensor([0.0, 100.0], requires_grad=True)
    with pytest.warns(UserWarning, match="values reach"):
        coded = diff_jpeg(x, quality, mode=mode)
    gradients = torch.autograd.grad(coded.sum(), (x, quality))
    assert all(bool(torch.isfinite(t).all()) for t in (coded, *gradients))


@pytest.mark.parametrize("mode", ["surrogate", "ste"])
def test_coefficients_too_large_to_decode_are_rejected(mode):
    coded = _coefficients()
    with pytest.raises(ValueError, match=r"coefficients.luma must lie in \[-1e\+20, 1e\+20\]"):
        jpeg_decode(replace(coded, luma=torch.full_like(coded.luma, -3e38)), mode=mode)  # NaN before


@pytest.mark.parametrize("quality", [NAN, 150.0, 1e30])
def test_unchecked_quality_gives_no_index_error(quality):
    # Unread values (validation off, torch.func, torch.compile) indexed the table cache out of bounds: an
    # IndexError on the CPU, a device-side assert on CUDA.
    qualities = torch.tensor([50.0, quality])
    with set_validation(False):
        coded = diff_jpeg(RGB, qualities)
    assert torch.isfinite(coded[0]).all()
    vmapped = torch.func.vmap(lambda q: diff_jpeg(RGB[:1], q))(qualities)
    assert vmapped.shape == (2, 1, 3, 16, 16)


def test_vmap_over_tables_of_one_image_exact():
    # The exact face wrote the vmapped tables' batched results into buffers of the unbatched image.
    tables = torch.stack([torch.full((8, 8), 4.0), TABLE, torch.full((8, 8), 40.0)])
    x = RGB[:1]
    vmapped = torch.func.vmap(lambda t: diff_jpeg(x, qt_y=t, qt_c=t, mode="exact"))(tables)
    assert torch.equal(vmapped, torch.stack([diff_jpeg(x, qt_y=t, qt_c=t, mode="exact") for t in tables]))
    coded = jpeg_encode(x, 50.0, mode="exact")
    decode = lambda t: jpeg_decode(replace(coded, qt_y=t[None], qt_c=t[None]), mode="exact")  # noqa: E731
    assert torch.equal(torch.func.vmap(decode)(tables), torch.stack([decode(t) for t in tables]))


def _surrogate_calls():
    from kornia_diffjpeg.codec import surrogates

    calls = {f"rounding-{name}": function for name, function in surrogates.ROUNDING_SURROGATES.items()}
    calls["differentiable_clip"] = lambda x: surrogates.differentiable_clip(x, 0.0, 1.0)
    calls["dithered_round_slope"] = lambda x: surrogates.dithered_round_slope(x, 4.0)
    calls["rounded_clip"] = lambda x: surrogates.rounded_clip(x, "polynomial", 0.0, 255.0, True)
    return [pytest.param(call, id=name) for name, call in calls.items()]


@pytest.mark.parametrize("call", _surrogate_calls())
@pytest.mark.parametrize("x", [torch.arange(4), torch.ones(3, dtype=torch.bool), [0.5, 1.5], 0.5, None])
def test_surrogates_take_floating_point_tensors(call, x):
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        call(x)


def test_dithered_round_step_must_broadcast_to_x():
    from kornia_diffjpeg.codec.surrogates import dithered_round, dithered_round_slope

    x = torch.linspace(-3.0, 3.0, 13, requires_grad=True)
    for call in (dithered_round, dithered_round_slope):
        with pytest.raises(ValueError, match="step must be broadcastable"):
            call(x, torch.ones(5))  # failed in the backward pass only
        with pytest.raises(TypeError, match="step must be a number"):
            call(x, "4")


def test_color_conversions_check_their_arguments():
    from kornia_diffjpeg.codec import rgb_to_ycbcr, ycbcr_to_rgb

    matrix, offset = jfif_color()
    x = RGB * 255.0
    for call in (rgb_to_ycbcr, ycbcr_to_rgb):
        with pytest.raises(ValueError, match=r"must have shape \(B, 3, H, W\)"):
            call(x[:, :1], matrix, offset)
        with pytest.raises(TypeError, match="one dtype"):
            call(x, matrix.double(), offset)
        with pytest.raises(ValueError, match="matrix and offset must have shapes"):
            call(x, matrix[:2], offset)
    with pytest.raises(TypeError, match="dtype must be a floating-point"):
        jfif_color(torch.int64)  # truncated the constants to integers


@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"kind": "nearest"}, ValueError, "kind must be one of"),  # silently did no rounding
        ({"low": float("nan")}, ValueError, "low must be"),  # NaN output
        ({"high": float("nan")}, ValueError, "high must be"),
        ({"low": 2.0, "high": 1.0}, ValueError, "low must be <= high"),
        ({"slope": -1.0}, ValueError, "slope must be"),
        ({"slope": "0.1"}, TypeError, "slope must be"),
        ({"divisor": 0.0}, ValueError, "divisor must be"),  # inf output
        ({"divisor": float("inf")}, ValueError, "divisor must be"),
    ],
)
def test_public_clips_check_their_settings(settings, error, match):
    from kornia_diffjpeg.codec.surrogates import clip_straight_through, differentiable_clip, rounded_clip

    x = torch.linspace(-2.0, 300.0, 7)
    full = {"kind": "polynomial", "low": 0.0, "high": 255.0, "soft": True, "divisor": 1.0, "slope": 1e-3, **settings}
    with pytest.raises(error, match=match):
        rounded_clip(x, **full)
    if not {"kind", "divisor"} & set(settings):
        clip = {key: full[key] for key in ("low", "high", "slope")}
        for call in (differentiable_clip, clip_straight_through):
            with pytest.raises(error, match=match):
                call(x, **clip)


def test_public_clips_accept_their_documented_range():
    from kornia_diffjpeg.codec.surrogates import differentiable_clip, rounded_clip

    x = torch.tensor([-10.0, 0.4, 0.6, 265.0])
    expected = torch.tensor([0.0, 0.0, 1.0, 255.0]) / 255.0
    assert torch.equal(rounded_clip(x, "half_up", 0.0, 255.0, False, 255.0, 0.0), expected)
    assert differentiable_clip(x, 1.0, 1.0, 1.0).tolist() == x.tolist()  # slope 1: no clip at all


@pytest.mark.parametrize("channels", [0, 2, 4, True, "3"])
def test_header_size_takes_the_layouts_of_a_file(channels):
    from kornia_diffjpeg.filesize.exact import header_size

    with pytest.raises(ValueError, match="channels must be 1"):
        header_size(channels)  # 0 and 2 gave sizes of files that cannot exist, "3" a TypeError deep inside
