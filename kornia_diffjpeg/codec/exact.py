"""The exact face: bit for bit what libjpeg-turbo computes (default settings).

Color conversion in 16-bit fixed point (``jccolor.c``, ``jdcolor.c``), the ISLOW integer DCT
(``islow.py``), quantization with halves away from zero (``jcdctmgr.c``), and the shared chroma
resampling and edge replication of ``sampling.py``.

Samples are carried as integer-valued float32 tensors: every sum of the color conversion and of the
resampling filters is an integer below 2**24, so float32 computes it exactly. Matrix products are used
where float32 products are plain IEEE (the CPU at the default matmul precision; TF32 or bfloat16 could
round them elsewhere): the color conversions are one product each (every partial sum below 2**24), and
the encoder's ISLOW DCT runs on the sample planes as they lie, its first pass a block-diagonal product
(sums below 2**24), its second a product with a matrix split into high and low parts (both sums exact);
elsewhere the products run in float64 and the color conversions elementwise. Quantization is exact in
float32. The decoder's ISLOW IDCT (sums up to 2**35) runs in float64, on planes. Encoder and decoder
work in steps of about :data:`CHUNK_SAMPLES` samples on the CPU (cache locality, bounded memory).
The public functions take and return int32 tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from kornia_diffjpeg.codec.constants import cached
from kornia_diffjpeg.codec.islow import _PASSES
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
from kornia_diffjpeg.codec.tracing import is_traced

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
    return _centered_ycbcr_to_rgb(luma, chroma - 128.0)


def _centered_ycbcr_to_rgb(luma: Tensor, centered: Tensor) -> Tensor:
    """:func:`_ycbcr_to_rgb` of chroma minus 128."""
    cb, cr = centered.unbind(1)
    luma = luma.squeeze(1)
    red = _fixed_point([(cr, _fix(1.402))], _ONE_HALF)
    green = _fixed_point([(cb, -_fix(0.34414)), (cr, -_fix(0.71414))], _ONE_HALF)
    blue = _fixed_point([(cb, _fix(1.772))], _ONE_HALF)
    return torch.stack((red, green, blue), dim=1).add_(luma.unsqueeze(1)).clamp_(0.0, 255.0)


def _color_product(device: torch.device) -> tuple[Tensor, Tensor]:
    """``jccolor.c``'s fixed-point matrix (3, 3) and offsets (3, 1) as float32 constants, times ``2**-16``
    (the descaling folded in: a power-of-two scale keeps every integer partial sum exact)."""
    rounding = _CBCR_OFFSET + _ONE_HALF - 1
    matrix = [
        [_fix(0.299), _fix(0.587), _fix(0.114)],
        [-_fix(0.16874), -_fix(0.33126), _fix(0.5)],
        [_fix(0.5), -_fix(0.41869), -_fix(0.08131)],
    ]
    offset = [[float(_ONE_HALF)], [float(rounding)], [float(rounding)]]
    return (
        cached("exact_color", torch.float32, device, lambda: torch.tensor(matrix, dtype=torch.float64) * _UNSCALE),
        cached(
            "exact_color_offset", torch.float32, device, lambda: torch.tensor(offset, dtype=torch.float64) * _UNSCALE
        ),
    )


def _encoder_color(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`_rgb_to_ycbcr` as one product where float32 products are IEEE: every partial sum of a row
    (any order, offset included) is an integer of magnitude below 2**24, hence exact; luma and chroma are
    views of its output."""
    if not _ieee_float32_matmul(rgb.device):
        return _rgb_to_ycbcr(rgb)
    matrix, offset = _color_product(rgb.device)
    batch = rgb.shape[0]
    ycbcr = torch.baddbmm(offset, matrix.expand(batch, 3, 3), rgb.reshape(batch, 3, -1)).floor_().view(rgb.shape)
    return ycbcr[:, :1], ycbcr[:, 1:]


def _decoder_color(luma: Tensor, centered: Tensor) -> Tensor:
    """:func:`_ycbcr_to_rgb` of chroma minus 128 (``centered``) as one product where float32 products are
    IEEE: the centered chroma times ``jdcolor.c``'s fixed-point factors (3, 2) sums at most 1.5e7 < 2**24
    in magnitude (rounding bias included), in any order: exact; factors and bias are times ``2**-16`` (the
    descaling, exact as well)."""
    if not _ieee_float32_matmul(centered.device):
        return _centered_ycbcr_to_rgb(luma, centered)
    factors = [[0, _fix(1.402)], [-_fix(0.34414), -_fix(0.71414)], [_fix(1.772), 0]]
    device = centered.device
    matrix = cached("exact_color_inverse", torch.float32, device, lambda: torch.tensor(factors).double() * _UNSCALE)
    rounding = cached("exact_color_half", torch.float32, device, lambda: torch.tensor(_ONE_HALF * _UNSCALE))
    batch, _, height, width = centered.shape
    rgb = torch.baddbmm(rounding, matrix.expand(batch, 3, 2), centered.reshape(batch, 2, height * width)).floor_()
    return rgb.view(batch, 3, height, width).add_(luma).clamp_(0.0, 255.0)


def rgb_to_ycbcr_exact(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) int32 RGB in 0..255 to YCbCr exactly as ``jccolor.c`` computes it."""
    return torch.cat(_rgb_to_ycbcr(rgb.float()), dim=1).int()


def ycbcr_to_rgb_exact(ycbcr: Tensor) -> Tensor:
    """(B, 3, H, W) int32 YCbCr to RGB exactly as ``jdcolor.c`` computes it, range-limited."""
    samples = ycbcr.float()
    return _ycbcr_to_rgb(samples[:, :1], samples[:, 1:]).int()


#: Samples (pixels x channels) coded per step on the CPU: the step's temporaries (a few float32 or
#: float64 copies of it, ~10 MB) stay in the caches, which makes the passes faster than over the whole
#: batch, and the call's peak memory stays near its output's. Larger batches are coded in groups of
#: whole images (single large images in bands of whole MCU rows), written into the preallocated output.
CHUNK_SAMPLES = 1 << 20
#: The same on other devices (GPUs), where each step costs kernel launches: steps only bound the memory
#: (temporaries of ~0.5 GB).
DEVICE_CHUNK_SAMPLES = 1 << 26


def _chunk_samples(device: torch.device) -> int:
    return CHUNK_SAMPLES if device.type == "cpu" else DEVICE_CHUNK_SAMPLES


def _read_samples(image: Tensor) -> Tensor:
    """``clamp(floor(255 x + 0.5), 0, 255)`` as float32 integers; exact for 8..32-bit float input
    (255 x is exact in float64), float64 input rounded as float64 computes it; uint8 samples as they are."""
    if image.dtype == torch.uint8:
        return image.float()
    wide = image.to(torch.float64, copy=True).mul_(255.0)
    if image.dtype == torch.float64:
        wide.add_(0.5).floor_()
    else:
        # 255 x of a float of at most 24 bits is a half-integer only at x = 1/2 in [0, 1] (x = m / 2, m odd),
        # where rounding half to even gives 128 as well; outside [0, 1] the clamp hides the difference.
        wide.round_()
    return wide.float().clamp_(0.0, 255.0)


def _ieee_float32_matmul(device: torch.device) -> bool:
    """Whether float32 products are plain IEEE float32 here (no TF32 or bfloat16 shortcuts)."""
    # Under torch.compile the settings cannot be read while tracing, and Inductor may lower a product
    # to its own kernels: the float64 and elementwise paths then.
    if torch.compiler.is_compiling() or device.type != "cpu" or torch.get_float32_matmul_precision() != "highest":
        return False
    mkldnn = getattr(torch.backends.mkldnn, "matmul", None)
    return getattr(mkldnn, "fp32_precision", "none") in ("none", "ieee")


#: Samples per row of the first pass's product (a multiple of 8 dividing 64: every block-padded plane holds
#: a whole number of them).
_PASS1_ROWS = 32


class _ForwardPasses(NamedTuple):
    """The encoder DCT's constants on one device (see :func:`_forward_passes`)."""

    matrix1: Tensor  # (_PASS1_ROWS, _PASS1_ROWS) block-diagonal, transposed: rows @ matrix1, times 2**-shift
    bias1: Tensor  # rounding bias, level shift folded in, times 2**-shift
    matrix2: Tensor  # (8, 8), or (16, 8) high and low parts in float32, each row times its scale
    bias2: Tensor  # (8 or 16, 1), the same
    scale2: Tensor  # (8, 1): the high sums' scale, which the floored low sums are multiplied by (float32 only)


#: Split of the second pass's constants in float32: matrix = _SPLIT * high + low, |low| <= 128.
_SPLIT = 256


_FORWARD_PASSES: dict[tuple[torch.device, bool], _ForwardPasses] = {}


def _forward_passes(device: torch.device) -> _ForwardPasses:
    """The two ISLOW passes as products with integer matrices followed by libjpeg's descaling.

    Pass 1 (rows of 8 samples, level shift folded into its bias) sums at most 7.75e6 < 2**24 in magnitude,
    in any order: exact in float32 wherever float32 products are IEEE (else float64). Pass 2 (the 8 rows
    of a block) sums up to 2.5e8, so in float32 its matrix is split, ``M = 256 H + L``: the high sums reach
    1e6 and the low ones 4.2e6, both exact, and ``(256 A + B + r) >> s = (A + ((B + r) >> 8)) >> (s - 8)``
    (rows 0 and 4, whose entries are +-1 and shift 2, are all low, divisor 1). Elsewhere it is float64.

    Every descaling ``2**-shift`` is folded into the matrices and biases: scaling by a power of two is
    exact, so each sum is the same integer times ``2**-shift``, exact in any order as the integer is.
    """
    exact32 = _ieee_float32_matmul(device)
    known = None if torch.compiler.is_compiling() else _FORWARD_PASSES.get((device, exact32))
    if known is not None:
        return known
    dtype = torch.float32 if exact32 else torch.float64
    matrix1, shifts1 = _PASSES["forward1"]
    matrix2, shifts2 = _PASSES["forward2"]
    copies = _PASS1_ROWS // 8
    rowsum = [sum(row) for row in matrix1]
    bias1 = [float((1 << k >> 1) - 128 * s) for k, s in zip(shifts1, rowsum, strict=True)]
    rounding2 = [[float(1 << k >> 1)] for k in shifts2]
    low_only = [k < 8 for k in shifts2]  # the DC-like rows 0 and 4
    if exact32:
        high = [
            [0 if low else (v + _SPLIT // 2) // _SPLIT for v in row] for row, low in zip(matrix2, low_only, strict=True)
        ]
        low = [
            [v - _SPLIT * h for v, h in zip(row, hrow, strict=True)] for row, hrow in zip(matrix2, high, strict=True)
        ]
        scale2 = [1.0 / (1 << k) if lo else float(_SPLIT) / (1 << k) for k, lo in zip(shifts2, low_only, strict=True)]
        inverse_divisor2 = [1.0 if lo else 1.0 / _SPLIT for lo in low_only]
        scales = scale2 + inverse_divisor2  # of the high rows, then of the low ones
        second, bias2 = high + low, [[0.0]] * 8 + rounding2
    else:
        scale2 = scales = [1.0 / (1 << k) for k in shifts2]
        second, bias2 = matrix2, rounding2
    scale1 = [1.0 / (1 << k) for k in shifts1] * copies

    def constant(name: str, build: Callable[[], Tensor]) -> Tensor:
        return cached(("exact_fdct", name), dtype, device, build)

    def table(name: str, values: list) -> Tensor:
        return constant(name, lambda: torch.tensor(values, dtype=torch.float64))

    def scaled_rows(values: list, scale: list[float]) -> Tensor:
        return torch.tensor(values, dtype=torch.float64) * torch.tensor(scale, dtype=torch.float64).view(-1, 1)

    passes = _ForwardPasses(
        # Four rows of 8 samples per product row, by a block-diagonal matrix: a wider product, far faster
        # on the CPU than (N, 8) @ (8, 8), with the same sums (the other terms are zeros).
        constant(
            "matrix1",
            lambda: torch.block_diag(*[torch.tensor(matrix1, dtype=torch.float64).T] * copies) * torch.tensor(scale1),
        ),
        constant("bias1", lambda: torch.tensor(bias1 * copies, dtype=torch.float64) * torch.tensor(scale1)),
        constant("matrix2", lambda: scaled_rows(second, scales)),
        constant("bias2", lambda: scaled_rows(bias2, scales)),
        table("scale2", [[v] for v in scale2]),
    )
    if not torch.compiler.is_compiling():
        _FORWARD_PASSES[(device, exact32)] = passes
    return passes


def _code_planes(planes: Tensor, table: Tensor, dtype: torch.dtype, out: Tensor | None = None) -> Tensor:
    """ISLOW DCT and quantization of float32 sample planes (B, C, 8R, 8K): blocks (B, C, R, K, 64) of
    ``dtype``, written into ``out`` when given.

    Both passes run on the planes as they lie (rows of 8 samples, then 8 rows): the only reordering
    into blocks is the last step's write. Quantization is ``sign(x) ((|x| + 4Q) // 8Q)`` of the DCT
    scaled by 8, as ``trunc((x + 4Q sign(x)) / 8Q)``: an integer below 2**24 over 8Q, exact in float32
    and at least 1 / 8Q away from the next integer unless it is one (checked for every x and Q).
    """
    batch, channels, height, width = planes.shape
    passes = _forward_passes(planes.device)
    # Per image: a luma plane is a view of the colour product, whose images are 3 planes apart (no copy).
    samples = planes.reshape(batch, -1, _PASS1_ROWS).to(passes.matrix1.dtype)
    rows = torch.baddbmm(passes.bias1, samples, passes.matrix1.expand(batch, -1, -1))
    rows = rows.floor_().view(-1, 8, width)
    # baddbmm with the matrix expanded: one batched product, far faster than matmul's path here.
    products = torch.baddbmm(passes.bias2, passes.matrix2.expand(rows.shape[0], -1, 8), rows)
    columns = products[:, :8]
    if products.shape[1] == 16:  # float32: the high sums, scaled, plus the floored low sums at their scale
        columns.addcmul_(products[:, 8:].floor_(), passes.scale2)
    columns.floor_()
    columns = products.view(batch, channels, height // 8, -1, width // 8, 8)[:, :, :, :8]
    table = table.view(batch, 1, 1, 8, 1, 8)
    if is_traced(table):  # tables vmapped over unbatched planes: a batched result cannot be written into them
        columns = torch.addcmul(columns, torch.sign(columns), table.to(columns.dtype), value=4)
    else:
        columns = columns.addcmul_(torch.sign(columns), table.to(columns.dtype), value=4)
    divisor = (table * 8).to(dtype)
    if out is None:
        quantized = torch.div(columns, divisor, rounding_mode="trunc")
        return quantized.transpose(3, 4).reshape(batch, channels, height // 8, width // 8, 64)
    torch.div(columns, divisor, rounding_mode="trunc", out=out.unflatten(-1, (8, 8)).transpose(3, 4))
    return out


def _inverse_passes(device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The ISLOW IDCT's passes in float64 (sums up to 2**35): each pass's (8, 8) matrix and (8, 1) rounding
    bias (the row pass's with the +128 folded in), each output times its ``2**-shift`` (exact, as in
    :func:`_forward_passes`)."""
    matrix1, shifts1 = _PASSES["inverse1"]
    matrix2, shifts2 = _PASSES["inverse2"]

    def constant(name: str, build: Callable[[], Tensor]) -> Tensor:
        return cached(("exact_idct", name), torch.float64, device, build)

    def scale(shifts: list[int]) -> Tensor:  # of the output rows
        return torch.tensor([[1.0 / (1 << k)] for k in shifts], dtype=torch.float64)

    bias2 = [[float((1 << k >> 1) + (128 << k))] for k in shifts2]
    return (
        constant("matrix1", lambda: torch.tensor(matrix1, dtype=torch.float64) * scale(shifts1)),
        constant("bias1", lambda: torch.tensor([[float(1 << k >> 1)] for k in shifts1]).double() * scale(shifts1)),
        constant("matrix2", lambda: torch.tensor(matrix2, dtype=torch.float64) * scale(shifts2)),
        constant("bias2", lambda: torch.tensor(bias2, dtype=torch.float64) * scale(shifts2)),
    )


def _reconstruct_exact(blocks: Tensor, table: Tensor, size: tuple[int, int]) -> Tensor:
    """Dequantize, ISLOW IDCT, +128 and range limit, cropped to ``size``: float32 samples.

    The dequantization writes the blocks as planes (B, C, 8R, 8K), where both passes are wide products
    (the columns of each row of blocks, then rows of 8 samples), in float64.
    """
    batch, channels, rows, cols, _ = blocks.shape
    matrix1, bias1, matrix2, bias2 = _inverse_passes(blocks.device)
    table = table.reshape(batch, 1, 1, 8, 1, 8).to(torch.float64)
    as_planes = blocks.unflatten(-1, (8, 8)).transpose(3, 4)
    if is_traced(blocks, table):  # no out=
        planes = torch.mul(as_planes, table).contiguous()
    else:
        planes = blocks.new_empty((batch, channels, rows, 8, cols, 8), dtype=torch.float64)
        torch.mul(as_planes, table, out=planes)
    strips = planes.view(batch * channels * rows, 8, cols * 8)
    strips = torch.baddbmm(bias1, matrix1.expand(strips.shape[0], 8, 8), strips).floor_()
    # The row pass as (8, 8) @ (8, N), the sample index last: a product with a long last dimension, far
    # faster on the CPU than (N, 8) @ (8, 8) or a block-diagonal (N, 32) @ (32, 32); the conversion to
    # float32 transposes it back.
    samples = torch.addmm(bias2, matrix2, strips.view(-1, 8).T).floor_().clamp_(0.0, 255.0)
    samples = samples.T.to(torch.float32, memory_format=torch.contiguous_format)
    planes = samples.view(batch, channels, rows * 8, cols * 8)
    if tuple(planes.shape[-2:]) != tuple(size):
        planes = planes[..., : size[0], : size[1]]
    return planes


def _steps(batch: int, channels: int, height: int, width: int, factor_h: int, budget: int) -> list[tuple[slice, slice]]:
    """(images, rows) of each step of about ``budget`` samples: groups of whole images, or bands of one
    image's whole MCU rows."""
    per_image = channels * height * width
    if per_image <= budget:
        group = budget // per_image
        return [(slice(i, min(i + group, batch)), slice(0, height)) for i in range(0, batch, group)]
    mcu_rows = 8 * factor_h
    band = mcu_rows * max(1, budget // (channels * width * mcu_rows))
    return [(slice(i, i + 1), slice(r, min(r + band, height))) for i in range(batch) for r in range(0, height, band)]


def _encode_whole(
    image: Tensor, qt_y: Tensor, qt_c: Tensor | None, subsampling: Subsampling, dtype: torch.dtype
) -> tuple[Tensor, Tensor | None]:
    """:func:`encode_exact` in one step, functionally (for tensors of ``torch.func`` transforms)."""
    with torch.no_grad():
        samples = _read_samples(image)
        if qt_c is None:
            return _code_planes(pad_to_multiple(samples, 8, 8), qt_y, dtype), None
        planes_y, planes_c = _encoder_color(samples)
        luma = _code_planes(pad_to_multiple(planes_y, 8, 8), qt_y, dtype)
        return luma, _code_planes(downsample_chroma(planes_c, subsampling, _INTEGER_OPS), qt_c, dtype)


def encode_exact(
    image: Tensor, qt_y: Tensor, qt_c: Tensor | None, subsampling: Subsampling, dtype: torch.dtype
) -> tuple[Tensor, Tensor | None]:
    """Quantized coefficients (as ``dtype``) of float images (B, C, H, W) read as ``round(255 x)`` (or of
    uint8 samples), tables (B, 8, 8) int32.

    Coded in steps of about :data:`CHUNK_SAMPLES` samples (:data:`DEVICE_CHUNK_SAMPLES` off the CPU):
    whole images, or whole MCU rows of one image (every stage is local to an MCU row), each written into
    its part of the output.
    """
    batch, channels, height, width = image.shape
    if channels == 3 and qt_c is None:
        raise ValueError("qt_c is required for RGB samples")
    factor_w, factor_h = SUBSAMPLING_FACTORS[subsampling] if channels == 3 else (1, 1)
    if is_traced(image, qt_y, qt_c):
        return _encode_whole(image, qt_y, qt_c, subsampling, dtype)
    luma = image.new_empty((batch, 1, ceil_div(height, 8), ceil_div(width, 8), 64), dtype=dtype)
    chroma_rows, chroma_cols = ceil_div(ceil_div(height, factor_h), 8), ceil_div(ceil_div(width, factor_w), 8)
    chroma = None if channels == 1 else image.new_empty((batch, 2, chroma_rows, chroma_cols, 64), dtype=dtype)
    with torch.no_grad():
        for images, rows in _steps(batch, channels, height, width, factor_h, _chunk_samples(image.device)):
            samples = _read_samples(image[images, :, rows])
            luma_rows = slice(rows.start // 8, ceil_div(rows.stop, 8))
            if chroma is None:
                _code_planes(pad_to_multiple(samples, 8, 8), qt_y[images], dtype, luma[images, :, luma_rows])
                continue
            assert qt_c is not None
            planes_y, planes_c = _encoder_color(samples)
            _code_planes(pad_to_multiple(planes_y, 8, 8), qt_y[images], dtype, luma[images, :, luma_rows])
            chroma_out = chroma[images, :, rows.start // (8 * factor_h) : ceil_div(ceil_div(rows.stop, factor_h), 8)]
            _code_planes(downsample_chroma(planes_c, subsampling, _INTEGER_OPS), qt_c[images], dtype, chroma_out)
    return luma, chroma


def _write_samples(samples: Tensor, out: Tensor | None, dtype: torch.dtype | None) -> Tensor:
    """Integer-valued float32 samples as int32 (``dtype`` None) or as ``dtype`` images ``samples / 255``
    (the division in ``dtype``), into ``out`` when given."""
    if dtype is None:
        return samples.int() if out is None else out.copy_(samples)
    if dtype == samples.dtype:
        return torch.div(samples, 255.0) if out is None else torch.div(samples, 255.0, out=out)
    image = samples.to(dtype).div_(255.0)
    return image if out is None else out.copy_(image)


def _coefficients(blocks: Tensor, rounded: bool) -> Tensor:
    """Coefficient blocks as decoded: rounded (halves away from zero) when asked, in their step (in the caches,
    and without a whole-batch copy of them)."""
    return round_half_away(blocks) if rounded else blocks


def decode_exact(
    luma: Tensor,
    chroma: Tensor | None,
    qt_y: Tensor,
    qt_c: Tensor | None,
    subsampling: Subsampling,
    image_size: tuple[int, int],
    chroma_size: tuple[int, int],
    dtype: torch.dtype | None = None,
    round_coefficients: bool = False,
) -> Tensor:
    """8-bit images (B, C, H, W) int32 decoded from int32 coefficients and tables; with a floating ``dtype``,
    those images divided by 255 in ``dtype``. Integer-valued float coefficients are decoded as they are
    (the dequantization runs in float64, where either is exact); with ``round_coefficients``, float
    coefficients are rounded to the nearest integers first (halves away from zero), step by step.

    Decoded in groups of whole images of about :data:`CHUNK_SAMPLES` samples (as the encoder), each
    written into its part of the output.
    """
    if chroma is not None and qt_c is None:
        raise ValueError("qt_c is required with chroma coefficients")
    batch, channels = luma.shape[0], 1 if chroma is None else 3
    height, width = image_size
    whole = is_traced(luma, qt_y, qt_c)
    out = None if whole else luma.new_empty((batch, channels, height, width), dtype=dtype or torch.int32)
    group = batch if whole else max(1, _chunk_samples(luma.device) // (channels * height * width))
    written = out
    with torch.no_grad():
        for start in range(0, batch, group):
            images = slice(start, start + group)
            part = None if out is None else out[images]
            decoded_luma = _reconstruct_exact(_coefficients(luma[images], round_coefficients), qt_y[images], image_size)
            if chroma is None:
                written = _write_samples(decoded_luma, part, dtype)
                continue
            assert qt_c is not None
            decoded_chroma = _reconstruct_exact(
                _coefficients(chroma[images], round_coefficients), qt_c[images], chroma_size
            )
            # Centered (minus 128) by the upsampling's bias row: one pass fewer.
            centered = upsample_chroma_smooth(decoded_chroma, subsampling, _INTEGER_OPS, shift=-128.0)
            if tuple(centered.shape[-2:]) != (height, width):
                centered = centered[..., :height, :width]
            written = _write_samples(_decoder_color(decoded_luma, centered), part, dtype)
    assert written is not None, "a batch of images under a torch.func transform"
    return written if out is None else out
