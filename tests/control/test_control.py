"""Codec control: the network's shapes, ranges and gradients, the loss terms, training and real files."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from kornia_diffjpeg import diff_jpeg, jpeg_file_size
from kornia_diffjpeg.codec.tables import ANNEX_K_CHROMA, ANNEX_K_LUMA
from kornia_diffjpeg.control import (
    CodecControl,
    binned_target_sizes,
    bootstrap_loss,
    codec_control_loss,
    encode_with_control,
    fit_tables_to_size,
    integer_tables,
    standard_tables,
)
from kornia_diffjpeg.control.network import dct_statistics
from testing.datasets import small_crop as load_photo
from testing.reference import decode, from_uint8, pillow_encode, read_dct

SIZE_RANGE = (500.0, 4000.0)


def photos(count: int = 4, height: int = 48, width: int = 64) -> torch.Tensor:
    names = ("astronaut", "chelsea", "coffee")
    return torch.stack([from_uint8(load_photo(names[i % 3], height, width)) for i in range(count)])


@pytest.fixture
def control() -> CodecControl:
    torch.manual_seed(0)
    return CodecControl(size_range=SIZE_RANGE, width=16, blocks=2)


def test_tables_shape_range_and_dependence_on_target(control):
    images = photos()
    qt_y, qt_c = control(images, torch.tensor([500.0, 1000.0, 2000.0, 4000.0]))
    for table in (qt_y, qt_c):
        assert table.shape == (4, 8, 8) and table.dtype == torch.float32
        assert bool((table >= 1).all() and (table <= 255).all())
    control.eval()
    # The same image with two targets: the condition reaches the tables (once the CBN leaves its identity start).
    control.blocks[0].norm2.affine[-1].weight.data.normal_()
    low, _ = control(images[:1].expand(2, -1, -1, -1), torch.tensor([500.0, 4000.0]))
    assert not torch.allclose(low[0], low[1])


def test_tables_saturate_within_bounds(control):
    # Huge logits: the sigmoid scaling keeps the tables in [1, 255].
    with torch.no_grad():
        control.out.bias.fill_(1e4)
        assert float(control(photos(2), torch.tensor([600.0, 900.0]))[0].max()) == 255.0
        control.out.bias.fill_(-1e4)
        assert float(control(photos(2), torch.tensor([600.0, 900.0]))[0].min()) == 1.0


def test_gradients_reach_every_parameter_and_the_image(control):
    for block in control.blocks:  # leave the identity start of the CBN so that its first layer gets gradients
        block.norm2.affine[-1].weight.data.normal_(std=0.1)
    images = photos(3).requires_grad_()
    qt_y, qt_c = control(images, torch.tensor([600.0, 1500.0, 3000.0]))
    (qt_y.sum() + qt_c.square().sum()).backward()
    assert images.grad is not None and bool(images.grad.abs().sum() > 0)
    for name, parameter in control.named_parameters():
        assert parameter.grad is not None and bool(parameter.grad.abs().sum() > 0), name


def test_custom_backbone():
    backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3, stride=4), torch.nn.ReLU())
    control = CodecControl(backbone, size_range=SIZE_RANGE, width=8, blocks=1)
    qt_y, qt_c = control(photos(2), torch.tensor([700.0, 900.0]))
    assert qt_y.shape == qt_c.shape == (2, 8, 8)


def test_dct_statistics_follow_the_image():
    flat = torch.full((1, 3, 16, 16), 0.5)
    stats = dct_statistics(torch.cat([flat, photos(1, 16, 16)]))
    # A flat gray image has no AC energy and no spread; a photo has both.
    assert float(stats[0, :3].flatten(1)[:, 1:].abs().max()) < 1e-3
    assert bool((stats[1, :3].flatten(1)[:, 1:].mean(1) > stats[0, :3].flatten(1)[:, 1:].mean(1)).all())


def loss_inputs(batch: int = 4, requires_grad: bool = True):
    torch.manual_seed(1)
    sizes = torch.tensor([800.0, 1000.0, 960.0, 500.0][:batch], requires_grad=requires_grad)
    target = torch.full((batch,), 1000.0)
    output = torch.randn(batch, 10, requires_grad=requires_grad)
    reference = torch.randn(batch, 10)
    qt_y = (20 + 10 * torch.rand(batch, 8, 8)).requires_grad_(requires_grad)
    qt_c = (30 + 10 * torch.rand(batch, 8, 8)).requires_grad_(requires_grad)
    return sizes, target, output, reference, qt_y, qt_c


def test_loss_terms_follow_their_definitions():
    sizes, target, output, reference, qt_y, qt_c = loss_inputs(requires_grad=False)
    terms = codec_control_loss(sizes, target, output, reference, qt_y, qt_c, condition_margin=0.01, size_margin=0.05)
    # Only 1000 > 990 is over; only 800 and 500 are below 950.
    assert float(terms.condition) == pytest.approx(float(torch.log10(torch.tensor(1000 / 990))) / 4, rel=1e-5)
    expected_regularizer = (np.log10(950 / 800) + np.log10(950 / 500)) / 4
    assert float(terms.size_regularizer) == pytest.approx(expected_regularizer, rel=1e-5)
    assert float(terms.performance) == pytest.approx(
        float(torch.nn.functional.cross_entropy(output, reference.argmax(1))), rel=1e-6
    )
    expected_table = abs(float(qt_y.flatten(1).std(1).mean()) - 12) + abs(float(qt_c.flatten(1).std(1).mean()) - 12)
    assert float(terms.table_regularizer) == pytest.approx(expected_table, rel=1e-5)
    weights = {"condition_weight": 2.0, "performance_weight": 3.0, "size_weight": 5.0, "table_weight": 7.0}
    total = codec_control_loss(sizes, target, output, reference, qt_y, qt_c, **weights).total
    expected = 2 * terms.condition + 3 * terms.performance + 5 * terms.size_regularizer + 7 * terms.table_regularizer
    assert float(total) == pytest.approx(float(expected), rel=1e-5)


@pytest.mark.parametrize(
    ("term", "inputs"),
    [("condition", "sizes"), ("size_regularizer", "sizes"), ("performance", "output"), ("table_regularizer", "tables")],
)
def test_each_loss_term_has_gradients(term, inputs):
    sizes, target, output, reference, qt_y, qt_c = loss_inputs()
    terms = codec_control_loss(sizes, target, output, reference, qt_y, qt_c)
    getattr(terms, term).backward()
    grads = {"sizes": [sizes.grad], "output": [output.grad], "tables": [qt_y.grad, qt_c.grad]}[inputs]
    assert all(g is not None and bool(g.abs().sum() > 0) for g in grads)
    if term == "condition":  # one-sided: only the file over the target gets a (positive) gradient
        assert sizes.grad[1] > 0 and bool((sizes.grad[[0, 2, 3]] == 0).all())
    if term == "size_regularizer":  # pushes the too-small files up, leaves the rest
        assert sizes.grad[0] < 0 and sizes.grad[3] < 0 and sizes.grad[1] == 0 and sizes.grad[2] == 0


def test_custom_performance_loss():
    sizes, target, output, reference, qt_y, qt_c = loss_inputs(requires_grad=False)
    terms = codec_control_loss(
        sizes, target, output, reference, qt_y, qt_c, performance_loss=lambda o, r: (o - r).abs().mean()
    )
    assert float(terms.performance) == pytest.approx(float((output - reference).abs().mean()))


def test_one_training_step_lowers_the_loss(control):
    """Through the real differentiable codec: one Adam step on a tiny batch lowers the control loss."""
    images = photos(4, 32, 32)
    target = torch.tensor([600.0, 900.0, 1500.0, 2500.0])
    downstream = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 8, stride=8), torch.nn.Flatten(), torch.nn.Linear(64, 5))
    downstream.requires_grad_(False)
    reference = downstream(images)
    optimizer = torch.optim.Adam(control.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        qt_y, qt_c = control(images, target)
        coded = diff_jpeg(images, qt_y=qt_y, qt_c=qt_c)
        # A stand-in differentiable size that falls with the tables: keeps the test independent of the estimator.
        sizes = 4000.0 * (qt_y.mean((1, 2)) + qt_c.mean((1, 2))).div(20.0).pow(-1.0)
        return codec_control_loss(sizes, target, downstream(coded), reference, qt_y, qt_c).total

    control.eval()  # batch statistics of 4 samples would make the comparison noisy
    before = float(loss().detach())
    loss().backward()
    optimizer.step()
    assert float(loss().detach()) < before


def test_bootstrap_targets_are_libjpeg_tables():
    qt_y, qt_c = standard_tables(torch.tensor([50.0, 100.0]))
    assert qt_y[0].tolist() == [list(r) for r in ANNEX_K_LUMA] and qt_c[0].tolist() == [list(r) for r in ANNEX_K_CHROMA]
    assert bool((qt_y[1] == 1).all())
    assert float(bootstrap_loss(qt_y + 2.55, qt_c, torch.tensor([50.0, 100.0]))) == pytest.approx(0.01)


def test_binned_target_sizes_cover_the_range():
    sizes = binned_target_sizes(8, 1000.0, 8000.0, torch.Generator().manual_seed(3))
    bins = ((sizes.log() - np.log(1000.0)) / (np.log(8000.0) - np.log(1000.0)) * 8).floor()
    assert sorted(bins.tolist()) == list(range(8))


def test_encode_with_control_writes_standard_files(control, tmp_path):
    images = photos(3)
    target = torch.tensor([600.0, 1200.0, 3000.0])
    files = encode_with_control(control, images, target)
    control.eval()
    with torch.no_grad():
        qt_y, qt_c = control(images, target)
    assert control.training is False  # fixture module untouched beyond our own eval()
    for index, data in enumerate(files):
        assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"
        for library in ("opencv", "pillow"):
            assert decode(data, library).shape == (48, 64, 3)
        # The tables in the file are the predicted tables rounded (jpeglib reads them in natural order).
        tables = read_dct(data, tmp_path).qt
        assert np.array_equal(tables[0], integer_tables(qt_y[index]).numpy())
        assert np.array_equal(tables[1], integer_tables(qt_c[index]).numpy())
        assert Image.open(io.BytesIO(data)).quantization[0] == integer_tables(qt_y[index]).flatten().tolist()


def test_encode_with_control_keeps_training_mode_and_matches_pillow(control):
    control.train()
    image = photos(1)
    data = encode_with_control(control, image[0], 800.0)[0]
    assert control.training
    control.eval()
    with torch.no_grad():
        qt_y, qt_c = control(image, torch.tensor([800.0]))
    tables = [integer_tables(qt_y[0]).numpy(), integer_tables(qt_c[0]).numpy()]
    reference = pillow_encode((image[0].permute(1, 2, 0) * 255).round().byte().numpy(), qtables=tables)
    assert data == reference


def test_encode_with_control_needs_no_pillow(control, monkeypatch):
    """The files come from encode_jpeg: with Pillow unimportable they are still Pillow's bytes."""
    import sys

    image = photos(2)
    expected = encode_with_control(control, image, 900.0, subsampling="4:2:2")
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    assert encode_with_control(control, image, 900.0, subsampling="4:2:2") == expected
    monkeypatch.undo()
    control.eval()
    with torch.no_grad():
        qt_y, qt_c = control(image, torch.full((2,), 900.0))
    for index, data in enumerate(expected):
        tables = [integer_tables(qt_y[index]).numpy(), integer_tables(qt_c[index]).numpy()]
        array = (image[index].permute(1, 2, 0) * 255).round().byte().numpy()
        assert data == pillow_encode(array, subsampling="4:2:2", qtables=tables)


def test_fit_tables_to_size_gives_the_largest_file_that_fits():
    images = photos(3)
    scales = torch.tensor([0.3, 1.0, 2.0]).view(3, 1, 1)
    qt_y = torch.tensor(ANNEX_K_LUMA, dtype=torch.float32) * scales
    qt_c = torch.tensor(ANNEX_K_CHROMA, dtype=torch.float32) * scales
    target = torch.tensor([900.0, 1500.0, 2500.0])
    luma, chroma = fit_tables_to_size(images, qt_y, qt_c, target)
    assert luma.dtype == torch.int64 and luma.shape == (3, 8, 8)
    sizes = jpeg_file_size(images, qt_y=luma.float(), qt_c=chroma.float())
    assert bool((sizes <= target).all())
    # One scale per image keeps the order of the entries (rounding and clamping may tie them).
    for given, fitted in ((qt_y, luma), (qt_c, chroma)):
        order = given.flatten(1).argsort(1)
        assert bool((fitted.flatten(1).gather(1, order).diff(dim=1) >= 0).all())
    # Largest that fits: no scale on a fine grid gives a fitting file more than 1% larger.
    grid = torch.exp2(torch.linspace(-3.0, 3.0, 121)).view(-1, 1, 1, 1)
    grid_sizes = jpeg_file_size(
        images.repeat(121, 1, 1, 1),
        qt_y=integer_tables(qt_y * grid).flatten(0, 1).float(),
        qt_c=integer_tables(qt_c * grid).flatten(0, 1).float(),
    ).view(121, 3)
    best = torch.where(grid_sizes <= target, grid_sizes, 0).amax(0)
    assert bool((best <= 1.01 * sizes).all()) and bool((sizes > 0.95 * target).all())
    # Targets out of reach: the coarsest tables when nothing fits, the finest when everything does.
    luma, chroma = fit_tables_to_size(images, qt_y, qt_c, torch.tensor([10.0, 10.0, 1e7]))
    assert bool((luma[:2] == 255).all() and (chroma[:2] == 255).all())
    assert bool((luma[2] == 1).all() and (chroma[2] == 1).all())
    # One number is the same target for every image.
    by_number = fit_tables_to_size(images, qt_y, qt_c, 1500.0)
    by_tensor = fit_tables_to_size(images, qt_y, qt_c, torch.full((3,), 1500.0))
    assert torch.equal(by_number[0], by_tensor[0]) and torch.equal(by_number[1], by_tensor[1])


def test_encode_with_control_fit_size_meets_the_targets(control):
    images = photos(3)
    target = torch.tensor([900.0, 1400.0, 2800.0])
    files = encode_with_control(control, images, target, fit_size=True)
    sizes = np.array([len(data) for data in files])
    assert bool((sizes <= target.numpy()).all())
    assert bool((sizes > 0.9 * target.numpy()).all())
    for data in files:
        assert decode(data, "opencv").shape == (48, 64, 3)


def test_bad_input(control):
    images = photos(2)
    target = torch.tensor([800.0, 900.0])
    with pytest.raises(TypeError, match="image"):
        control(images.numpy(), target)
    with pytest.raises(ValueError, match="RGB"):
        control(images[:, :1], target)
    with pytest.raises(ValueError, match="target_bytes"):
        control(images, torch.tensor([800.0]))
    with pytest.raises(ValueError, match="target_bytes"):
        control(images, torch.tensor([800.0, -1.0]))
    with pytest.raises(TypeError, match="target_bytes"):
        control(images, [800.0, 900.0])
    with pytest.raises(ValueError, match="size_range"):
        CodecControl(size_range=(100.0, 10.0))
    with pytest.raises(ValueError, match="backbone"):
        CodecControl(torch.nn.Flatten())
    with pytest.raises(TypeError, match="control"):
        encode_with_control(torch.nn.Identity(), images, target)
    with pytest.raises(ValueError, match="subsampling"):
        encode_with_control(control, images, target, subsampling="4:1:1")
    with pytest.raises(TypeError, match="fit_size"):
        encode_with_control(control, images, target, fit_size="yes")
    with pytest.raises(ValueError, match="steps"):
        fit_tables_to_size(images, *standard_tables(torch.tensor([50.0, 50.0])), target, steps=0)
    with pytest.raises(ValueError, match="qt_c"):
        fit_tables_to_size(images, standard_tables(torch.tensor([50.0, 50.0]))[0], torch.ones(8, 8), target)
    with pytest.raises(TypeError, match="qt_y"):
        fit_tables_to_size(images, None, torch.ones(2, 8, 8), target)
    with pytest.raises(ValueError, match="target_bytes"):
        fit_tables_to_size(images, *standard_tables(torch.tensor([50.0, 50.0])), torch.tensor([800.0, float("nan")]))
    with pytest.raises(TypeError, match="image"):
        fit_tables_to_size(images.numpy(), *standard_tables(torch.tensor([50.0, 50.0])), target)
    sizes, target4, output, reference, qt_y, qt_c = loss_inputs(requires_grad=False)
    with pytest.raises(ValueError, match="target_bytes"):
        codec_control_loss(sizes, target4[:2], output, reference, qt_y, qt_c)
    with pytest.raises(ValueError, match="qt_c"):
        codec_control_loss(sizes, target4, output, reference, qt_y, qt_c[:, :4])
    with pytest.raises(TypeError, match="predicted_bytes"):
        codec_control_loss(sizes.long(), target4, output, reference, qt_y, qt_c)
    with pytest.raises(ValueError, match="margin"):
        codec_control_loss(sizes, target4, output, reference, qt_y, qt_c, condition_margin=0.1, size_margin=0.05)
    with pytest.raises(TypeError, match="performance_loss"):
        codec_control_loss(sizes, target4, output, reference, qt_y, qt_c, performance_loss="ce")


def test_target_as_a_0d_tensor_is_one_number(control):
    """A 0-d tensor target (e.g. ``targets.mean()``) is one number for the batch, like a Python number."""
    control.eval()
    images = photos(2)
    for number in (900.0, 1500):
        expected = control(images, number)
        got = control(images, torch.tensor(number))
        assert all(torch.equal(a, b) for a, b in zip(got, expected, strict=True))
        assert encode_with_control(control, images, torch.tensor(number)) == encode_with_control(
            control, images, number
        )
    tables = standard_tables(torch.tensor([50.0, 50.0]))
    assert all(
        torch.equal(a, b)
        for a, b in zip(
            fit_tables_to_size(images, *tables, torch.tensor(900.0)),
            fit_tables_to_size(images, *tables, 900.0),
            strict=True,
        )
    )


def test_targets_that_overflow_the_network_dtype_are_named(control):
    """Targets finite in their own dtype but not in the network's gave NaN tables silently (encode_with_control
    blamed the parameters); a Python number beyond float32 gave a RuntimeError from torch.full."""
    images = photos(2)
    for target in (
        torch.tensor([1e300, 900.0], dtype=torch.float64),
        torch.tensor([1e-300, 900.0], dtype=torch.float64),
    ):
        with pytest.raises(ValueError, match=r"target_bytes \(in the control's dtype, torch.float32\)"):
            control(images, target)
        with pytest.raises(ValueError, match=r"target_bytes \(in the control's dtype, torch.float32\)"):
            encode_with_control(control, images, target)
    half = CodecControl(size_range=SIZE_RANGE, width=8, blocks=1).half()
    with pytest.raises(ValueError, match=r"target_bytes \(in the control's dtype, torch.float16\)"):
        half(images, torch.tensor([70000.0, 900.0]))  # above float16's 65504
    with pytest.raises(ValueError, match=r"target_bytes \(in the control's dtype, torch.float16\)"):
        encode_with_control(half, images, 70000.0)
    with pytest.raises(ValueError, match=r"size_range \(in the control's dtype\)"):
        CodecControl(size_range=(1000.0, 100000.0), width=8, blocks=1).half()(images, 900.0)
    for call in (control, lambda i, t: encode_with_control(control, i, t)):
        with pytest.raises(ValueError, match="target_bytes must be finite"):
            call(images, 1e39)
    with pytest.raises(ValueError, match="target_bytes must be finite"):
        fit_tables_to_size(images, *standard_tables(torch.tensor([50.0, 50.0])), 1e39)


@pytest.mark.parametrize("size_range", [(1e-300, 1e300), (1e-50, 1.0), (1.0, 1e39), (1.0, 1.00000001)])
def test_size_range_outside_float32_is_refused(size_range):
    """The float32 buffer held 0, inf or equal bounds: the condition, and every table, was NaN."""
    with pytest.raises(ValueError, match="size_range"):
        CodecControl(size_range=size_range, width=8, blocks=1)


def test_backbone_that_fails_on_rgb_and_devices_are_named(control):
    with pytest.raises(ValueError, match=r"backbone must map \(B, 3, H, W\) images"):  # was RuntimeError
        CodecControl(torch.nn.Conv2d(1, 4, 3), width=8, blocks=1)
    meta = photos(2).to("meta")
    with pytest.raises(ValueError, match="image is on meta but the control is on cpu"):  # was RuntimeError
        control(meta, torch.tensor([900.0, 900.0], device="meta"))
    with pytest.raises(ValueError, match="image is on meta but the control is on cpu"):
        encode_with_control(control, meta, 900.0)


def test_float8_tables_and_target_range_are_named():
    images = photos(2)
    tables = standard_tables(torch.tensor([50.0, 50.0]))
    with pytest.raises(TypeError, match="qt_y must be a real-valued tensor"):  # was NotImplementedError (aminmax)
        fit_tables_to_size(images, tables[0].to(torch.float8_e4m3fn), tables[1], 900.0)
    for low, high in ((1e-300, 1e300), (1e-46, 1.0), (1.0, 1e39)):  # NaN or inf sizes before
        with pytest.raises(ValueError, match="float32's range"):
            binned_target_sizes(4, low, high)


def test_fit_with_half_precision_targets_never_exceeds_them(control):
    """Sizes were compared in the targets' dtype: in bfloat16 a 1540-byte file fitted a 1536-byte target."""
    images = photos(1, 40, 40).expand(32, -1, -1, -1)
    targets = torch.arange(1024.0, 1280.0, 8.0).to(torch.bfloat16)  # exact in bfloat16, 8 bytes apart
    files = encode_with_control(control, images, targets, fit_size=True)
    sizes = [len(file) for file in files]
    assert all(size <= target for size, target in zip(sizes, targets.tolist(), strict=True)), sizes


def test_encode_with_control_on_meta_is_refused(control):
    meta = photos(2).to("meta")
    with pytest.raises(ValueError, match="image is on the meta device"):  # RuntimeError (.item()) before
        encode_with_control(control.to("meta"), meta, 900.0)


def test_control_loss_reads_targets_and_weights_in_the_loss_dtype():
    """NaN or inf losses before: targets that leave predicted's dtype, weights past it, a non-scalar performance."""
    tables = torch.full((2, 8, 8), 10.0)
    logits = torch.randn(2, 5)
    predicted = torch.tensor([900.0, 1200.0])
    for target in (torch.tensor([1e300, 1.0], dtype=torch.float64), torch.tensor([1e-320, 1.0], dtype=torch.float64)):
        with pytest.raises(ValueError, match=r"target_bytes \(in predicted_bytes' dtype, torch.float32\)"):
            codec_control_loss(predicted, target, logits, logits, tables, tables)
    with pytest.raises(ValueError, match=r"target_bytes \(in predicted_bytes' dtype, torch.float16\)"):
        codec_control_loss(predicted.half(), torch.tensor([1e6, 1e6]), logits, logits, tables, tables)
    with pytest.raises(ValueError, match="condition_weight"):
        codec_control_loss(
            torch.tensor([900.0, 900.0]), predicted, logits, logits, tables, tables, condition_weight=1e39
        )
    with pytest.raises(ValueError, match="table_std"):
        codec_control_loss(predicted, predicted, logits, logits, tables, tables, table_std=1e39)
    for performance in (lambda output, label: output, lambda output, label: "loss"):
        with pytest.raises(TypeError, match="performance_loss must return a 0-d floating-point tensor"):
            codec_control_loss(predicted, predicted, logits, logits, tables, tables, performance_loss=performance)
    terms = codec_control_loss(predicted.double(), predicted, logits, logits, tables, tables, condition_weight=1e39)
    assert all(bool(torch.isfinite(term)) for term in terms)


def test_pseudo_label_cross_entropy_needs_samples_and_classes():
    from kornia_diffjpeg.control import pseudo_label_cross_entropy

    for shape in ((0, 5), (2, 0), (2, 5, 0, 4)):  # NaN (mean over nothing) or IndexError (argmax) before
        logits = torch.randn(shape)
        with pytest.raises(ValueError, match="output must hold at least one sample and one class"):
            pseudo_label_cross_entropy(logits, logits)


def test_size_range_without_width_in_the_control_dtype_is_refused():
    """(1000, 1010) has one log10 in bfloat16: the condition divided by 0 and every table was NaN."""
    control = CodecControl(size_range=(1000.0, 1010.0), width=8, blocks=1).bfloat16().eval()
    images = photos(2)
    with pytest.raises(ValueError, match=r"size_range \(log10 high - log10 low, in torch.bfloat16\)"):
        control(images, 1005.0)
    with pytest.raises(ValueError, match="size_range"):  # "its parameters hold NaN or inf" before
        encode_with_control(control, images, 1005.0)


def test_half_control_on_photos_gives_finite_tables():
    """The DCT statistics were computed in float16, where a photo's DC variance (~1e6) is inf: NaN tables."""
    images = photos(2)
    assert bool(torch.isfinite(dct_statistics(images.half())).all())
    torch.testing.assert_close(dct_statistics(images.half()).float(), dct_statistics(images), atol=0.01, rtol=0.01)
    control = CodecControl(size_range=(1000.0, 1010.0), width=8, blocks=1).half().eval()  # float16 tells them apart
    qt_y, qt_c = control(images, 1005.0)
    assert bool(torch.isfinite(torch.stack((qt_y, qt_c))).all())
    assert len(encode_with_control(control, images, 1005.0)) == 2  # "its parameters hold NaN or inf" before


def test_helper_arguments_are_named():
    from kornia_diffjpeg.control.network import small_backbone

    with pytest.raises(TypeError, match="device must be"):  # float64 sizes on the CPU before (a number is a dtype)
        binned_target_sizes(4, 1000.0, 2000.0, device=5.5)
    with pytest.raises(ValueError, match="device must name a device"):  # RuntimeError before
        binned_target_sizes(4, 1000.0, 2000.0, device="nope")
    assert binned_target_sizes(4, 1000.0, 2000.0, device="cpu").dtype == torch.float32
    for width in (-1, 0):  # RuntimeError, or a backbone of no channel, before
        with pytest.raises(ValueError, match="width must be an int"):
            small_backbone(width)
    with pytest.raises(ValueError, match=r"image must be RGB images \(B, 3, H, W\)"):
        dct_statistics(torch.rand(1, 1, 8, 8))  # RuntimeError before
    with pytest.raises(ValueError, match="H, W >= 1"):
        dct_statistics(torch.rand(1, 3, 0, 0))  # NaN statistics before
    with pytest.raises(TypeError, match="floating-point"):
        dct_statistics(torch.zeros(1, 3, 8, 8, dtype=torch.int64))  # RuntimeError before
