"""The exact face: bit for bit what libjpeg-turbo computes (default settings).

Color conversion in 16-bit fixed point (``jccolor.c``, ``jdcolor.c``), the ISLOW integer DCT
(``islow.py``), quantization with halves away from zero (``jcdctmgr.c``), and the shared chroma
resampling and edge replication of ``sampling.py``.

Samples are carried as integer-valued float32 tensors: every sum of the color conversion and of the
resampling filters is an integer below 2**24, so float32 computes it exactly, elementwise (no matrix
product, which TF32 could round on a GPU). The encoder's DCT runs on the sample planes as they lie:
its first pass in float32 on the CPU (sums below 2**24; float64 where float32 products may be TF32 or
bfloat16), its second in int32 on the CPU (float64 elsewhere); quantization is exact in float32. The
decoder's ISLOW IDCT runs in float64, on the blocks. The public functions take and return int32 tensors.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg.codec.constants import cached
from kornia_diffjpeg.codec.dct import unblockify
from kornia_diffjpeg.codec.islow import _PASSES, inverse_islow
from kornia_diffjpeg.codec.modes import STE
from kornia_diffjpeg.codec.options import Subsampling
from kornia_diffjpeg.codec.sampling import (
    SUBSAMPLING_FACTORS,
    ceil_div,
    downsample_chroma,
    pad_to_multiple,
    upsample_chroma_smooth,
)
from kornia_diffjpeg.codec.surrogates import round_half_away

__all__ = ["decode_exact", "encode_exact", "rgb_to_ycbcr_exact", "ycbcr_to_rgb_exact"]

_SCALE_BITS = 16
_ONE_HALF = 1 << (_SCALE_BITS - 1)
_CBCR_OFFSET = 128 << _SCALE_BITS
_UNSCALE = 1.0 / (1 << _SCALE_BITS)
# On integer-valued float samples the straight-through mode's floors and shifts are libjpeg's, exactly.
_INTEGER_OPS = STE(round_half_away)


def _fix(x: float) -> int:
    return int(x * (1 << _SCALE_BITS) + 0.5)


def _fixed_point(terms: list[tuple[Tensor, int]], constant: int) -> Tensor:
    """``(sum(k * x) + constant) >> 16`` of integer-valued float32 planes; every partial sum is below 2**24."""
    (first, factor), *rest = terms
    total = torch.mul(first, float(factor))
    for plane, k in rest:
        total = total.add_(plane, alpha=float(k))
    return total.add_(float(constant)).mul_(_UNSCALE).floor_()


def _rgb_to_ycbcr(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """Luma (B, 1, H, W) and chroma (B, 2, H, W) of float32 RGB samples, as ``jccolor.c``."""
    red, green, blue = rgb.unbind(1)
    luma = _fixed_point([(red, _fix(0.299)), (green, _fix(0.587)), (blue, _fix(0.114))], _ONE_HALF)
    rounding = _CBCR_OFFSET + _ONE_HALF - 1
    cb = _fixed_point([(red, -_fix(0.16874)), (green, -_fix(0.33126)), (blue, _fix(0.5))], rounding)
    cr = _fixed_point([(red, _fix(0.5)), (green, -_fix(0.41869)), (blue, -_fix(0.08131))], rounding)
    return luma.unsqueeze(1), torch.stack((cb, cr), dim=1)


def _ycbcr_to_rgb(luma: Tensor, chroma: Tensor) -> Tensor:
    """RGB (B, 3, H, W) of float32 luma (B, 1, H, W) and chroma (B, 2, H, W), as ``jdcolor.c``, range-limited."""
    cb, cr = (chroma - 128.0).unbind(1)
    luma = luma.squeeze(1)
    red = _fixed_point([(cr, _fix(1.402))], _ONE_HALF)
    green = _fixed_point([(cb, -_fix(0.34414)), (cr, -_fix(0.71414))], _ONE_HALF)
    blue = _fixed_point([(cb, _fix(1.772))], _ONE_HALF)
    return torch.stack((red, green, blue), dim=1).add_(luma.unsqueeze(1)).clamp_(0.0, 255.0)


def _color_product(device: torch.device) -> tuple[Tensor, Tensor]:
    """``jccolor.c``'s fixed-point matrix (3, 3) and offsets (3, 1) as float32 constants."""
    rounding = _CBCR_OFFSET + _ONE_HALF - 1
    matrix = [
        [_fix(0.299), _fix(0.587), _fix(0.114)],
        [-_fix(0.16874), -_fix(0.33126), _fix(0.5)],
        [_fix(0.5), -_fix(0.41869), -_fix(0.08131)],
    ]
    offset = [[float(_ONE_HALF)], [float(rounding)], [float(rounding)]]
    return (
        cached("exact_color", torch.float32, device, lambda: torch.tensor(matrix, dtype=torch.float64)),
        cached("exact_color_offset", torch.float32, device, lambda: torch.tensor(offset, dtype=torch.float64)),
    )


def _encoder_color(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`_rgb_to_ycbcr` as one product where float32 products are IEEE: every partial sum of a row
    (any order, offset included) is an integer of magnitude below 2**24, hence exact; luma and chroma are
    views of its output."""
    if not _ieee_float32_matmul(rgb.device):
        return _rgb_to_ycbcr(rgb)
    matrix, offset = _color_product(rgb.device)
    batch = rgb.shape[0]
    ycbcr = torch.baddbmm(offset, matrix.expand(batch, 3, 3), rgb.reshape(batch, 3, -1))
    ycbcr = ycbcr.mul_(_UNSCALE).floor_().view(rgb.shape)
    return ycbcr[:, :1], ycbcr[:, 1:]


def rgb_to_ycbcr_exact(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) int32 RGB in 0..255 to YCbCr exactly as ``jccolor.c`` computes it."""
    return torch.cat(_rgb_to_ycbcr(rgb.float()), dim=1).int()


def ycbcr_to_rgb_exact(ycbcr: Tensor) -> Tensor:
    """(B, 3, H, W) int32 YCbCr to RGB exactly as ``jdcolor.c`` computes it, range-limited."""
    samples = ycbcr.float()
    return _ycbcr_to_rgb(samples[:, :1], samples[:, 1:]).int()


#: Samples (pixels x channels) coded per step: the step's temporaries stay in the CPU caches and the
#: call's peak memory stays near the output's. Larger batches are coded in groups of whole images
#: (and single large images in bands of whole MCU rows), written into the preallocated output.
CHUNK_SAMPLES = 1 << 20


def _read_samples(image: Tensor) -> Tensor:
    """``clamp(floor(255 x + 0.5), 0, 255)`` as float32 integers; exact for 8..32-bit float input
    (255 x and the half are exact in float64), float64 input rounded as float64 computes it."""
    wide = image.to(torch.float64, copy=True)
    return wide.mul_(255.0).add_(0.5).floor_().clamp_(0.0, 255.0).float()


def _ieee_float32_matmul(device: torch.device) -> bool:
    """Whether float32 products are plain IEEE float32 here (no TF32 or bfloat16 shortcuts)."""
    if device.type != "cpu" or torch.get_float32_matmul_precision() != "highest":
        return False
    mkldnn = getattr(torch.backends.mkldnn, "matmul", None)
    return getattr(mkldnn, "fp32_precision", "none") in ("none", "ieee")


#: Samples per row of the first pass's product (a multiple of 8 dividing 64: every block-padded plane holds
#: a whole number of them).
_PASS1_ROWS = 32


def _forward_constants(device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The two passes' matrices, biases and descaling, in the dtypes the passes run in on ``device``.

    Pass 1 (rows, level shift folded into its bias) sums at most 7.75e6 < 2**24 in magnitude: exact in
    float32 wherever float32 products are IEEE, else float64. Pass 2 (columns) sums up to 2.5e8: int32
    on the CPU (its shifts are libjpeg's), float64 elsewhere (no integer products on GPUs).
    """
    narrow = torch.float32 if _ieee_float32_matmul(device) else torch.float64
    wide = torch.int32 if device.type == "cpu" else torch.float64
    matrix1, shifts1 = _PASSES["forward1"]
    matrix2, shifts2 = _PASSES["forward2"]
    rowsum = [sum(row) for row in matrix1]
    bias1 = [float((1 << k >> 1) - 128 * s) for k, s in zip(shifts1, rowsum, strict=True)]
    # Four rows of 8 samples per product row, by a block-diagonal matrix: a wider product, far faster on
    # the CPU than (N, 8) @ (8, 8), with the same sums (the other terms are zeros).
    copies = _PASS1_ROWS // 8
    m1 = cached(
        ("exact_fdct1",),
        narrow,
        device,
        lambda: torch.block_diag(*[torch.tensor(matrix1, dtype=torch.float64).T] * copies),
    )
    b1 = cached(("exact_fdct1_bias",), narrow, device, lambda: torch.tensor(bias1 * copies, dtype=torch.float64))
    s1 = cached(
        ("exact_fdct1_scale",), narrow, device, lambda: torch.tensor([1.0 / (1 << k) for k in shifts1] * copies)
    )
    m2 = cached(("exact_fdct2",), wide, device, lambda: torch.tensor(matrix2, dtype=torch.float64))
    b2 = cached(("exact_fdct2_bias",), wide, device, lambda: torch.tensor([[float(1 << k >> 1)] for k in shifts2]))
    if wide == torch.int32:
        s2 = cached(("exact_fdct2_shift",), wide, device, lambda: torch.tensor([[float(k)] for k in shifts2]))
    else:
        s2 = cached(("exact_fdct2_scale",), wide, device, lambda: torch.tensor([[1.0 / (1 << k)] for k in shifts2]))
    return m1, b1, s1, m2, b2, s2


def _code_planes(planes: Tensor, table: Tensor, out: Tensor) -> None:
    """ISLOW DCT and quantization of float32 sample planes (B, C, 8R, 8K) into ``out`` (B, C, R, K, 64).

    Both passes run on the planes as they lie (rows of 8 samples, then 8 rows): the only reordering
    into blocks is the last step's write. Quantization is ``sign(x) ((|x| + 4Q) // 8Q)`` of the DCT
    scaled by 8, as ``trunc((x + 4Q sign(x)) / 8Q)``: an integer below 2**24 over 8Q, exact in float32
    and at least 1 / 8Q away from the next integer unless it is one.
    """
    batch, channels, height, width = planes.shape
    m1, b1, s1, m2, b2, s2 = _forward_constants(planes.device)
    rows = torch.addmm(b1, planes.reshape(-1, _PASS1_ROWS).to(m1.dtype), m1).mul_(s1).floor_()
    rows = rows.view(-1, 8, width).to(m2.dtype)
    if m2.dtype == torch.int32:
        columns = torch.matmul(m2, rows).add_(b2).bitwise_right_shift_(s2)
    else:
        columns = torch.matmul(m2, rows).add_(b2).mul_(s2).floor_()
    shape = (batch, channels, height // 8, 8, width // 8, 8)
    columns = columns.view(shape)
    table = table.view(batch, 1, 1, 8, 1, 8)
    columns = columns.addcmul_(torch.sign(columns), table.to(columns.dtype), value=4)
    divisor = (table * 8).to(out.dtype)
    torch.div(columns, divisor, rounding_mode="trunc", out=out.unflatten(-1, (8, 8)).transpose(3, 4))


def _reconstruct_exact(blocks: Tensor, table: Tensor, size: tuple[int, int]) -> Tensor:
    """Dequantize, ISLOW IDCT, +128 and range limit, cropped to ``size``: float32 samples."""
    shape = blocks.shape
    dequantized = blocks.double().view(shape[0], shape[1:-1].numel(), 64).mul_(table.reshape(shape[0], 1, 64))
    samples = inverse_islow(dequantized.view(*shape[:-1], 8, 8)).view(shape)
    planes = unblockify(samples.add_(128.0).clamp_(0.0, 255.0).float())
    if tuple(planes.shape[-2:]) != tuple(size):
        planes = planes[..., : size[0], : size[1]]
    return planes


def _band_rows(channels: int, width: int, factor_h: int) -> int:
    """Rows per step of one image too large for a step: whole MCU rows, about CHUNK_SAMPLES samples."""
    mcu_rows = 8 * factor_h
    return mcu_rows * max(1, CHUNK_SAMPLES // (channels * width * mcu_rows))


def _steps(batch: int, channels: int, height: int, width: int, factor_h: int) -> list[tuple[slice, slice]]:
    """(images, rows) of each step: groups of whole images, or bands of one image's MCU rows."""
    per_image = channels * height * width
    if per_image <= CHUNK_SAMPLES:
        group = CHUNK_SAMPLES // per_image
        return [(slice(i, min(i + group, batch)), slice(0, height)) for i in range(0, batch, group)]
    band = _band_rows(channels, width, factor_h)
    return [(slice(i, i + 1), slice(r, min(r + band, height))) for i in range(batch) for r in range(0, height, band)]


def encode_exact(
    image: Tensor, qt_y: Tensor, qt_c: Tensor | None, subsampling: Subsampling, dtype: torch.dtype
) -> tuple[Tensor, Tensor | None]:
    """Quantized coefficients (as ``dtype``) of float images (B, C, H, W) read as ``round(255 x)``, tables
    (B, 8, 8) int32.

    Coded in steps of about :data:`CHUNK_SAMPLES` samples (whole images, or whole MCU rows of one image;
    every stage is local to an MCU row), each written into its part of the output.
    """
    batch, channels, height, width = image.shape
    if channels == 3 and qt_c is None:
        raise ValueError("qt_c is required for RGB samples")
    factor_w, factor_h = SUBSAMPLING_FACTORS[subsampling] if channels == 3 else (1, 1)
    luma = image.new_empty((batch, 1, ceil_div(height, 8), ceil_div(width, 8), 64), dtype=dtype)
    chroma_rows, chroma_cols = ceil_div(ceil_div(height, factor_h), 8), ceil_div(ceil_div(width, factor_w), 8)
    chroma = None if channels == 1 else image.new_empty((batch, 2, chroma_rows, chroma_cols, 64), dtype=dtype)
    with torch.no_grad():
        for images, rows in _steps(batch, channels, height, width, factor_h):
            samples = _read_samples(image[images, :, rows])
            luma_rows = slice(rows.start // 8, ceil_div(rows.stop, 8))
            if chroma is None:
                _code_planes(pad_to_multiple(samples, 8, 8), qt_y[images], luma[images, :, luma_rows])
                continue
            assert qt_c is not None
            planes_y, planes_c = _encoder_color(samples)
            _code_planes(pad_to_multiple(planes_y, 8, 8), qt_y[images], luma[images, :, luma_rows])
            chroma_out = chroma[images, :, rows.start // (8 * factor_h) : ceil_div(ceil_div(rows.stop, factor_h), 8)]
            _code_planes(downsample_chroma(planes_c, subsampling, _INTEGER_OPS), qt_c[images], chroma_out)
    return luma, chroma


def decode_exact(
    luma: Tensor,
    chroma: Tensor | None,
    qt_y: Tensor,
    qt_c: Tensor | None,
    subsampling: Subsampling,
    image_size: tuple[int, int],
    chroma_size: tuple[int, int],
) -> Tensor:
    """8-bit images (B, C, H, W) int32 decoded from int32 coefficients and tables."""
    with torch.no_grad():
        height, width = image_size
        decoded_luma = _reconstruct_exact(luma, qt_y, image_size)
        if chroma is None:
            return decoded_luma.int()
        if qt_c is None:
            raise ValueError("qt_c is required with chroma coefficients")
        decoded_chroma = _reconstruct_exact(chroma, qt_c, chroma_size)
        decoded_chroma = upsample_chroma_smooth(decoded_chroma, subsampling, _INTEGER_OPS)
        if tuple(decoded_chroma.shape[-2:]) != (height, width):
            decoded_chroma = decoded_chroma[..., :height, :width]
        return _ycbcr_to_rgb(decoded_luma, decoded_chroma).int()
