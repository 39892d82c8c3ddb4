"""The exact face: bit for bit what libjpeg-turbo computes (default settings).

Color conversion in 16-bit fixed point (``jccolor.c``, ``jdcolor.c``), the ISLOW integer DCT
(``islow.py``), quantization with halves away from zero (``jcdctmgr.c``), and the shared chroma
resampling and edge replication of ``sampling.py``.

Samples are carried as integer-valued float32 tensors: every sum of the color conversion and of the
resampling filters is an integer below 2**24, so float32 computes it exactly, elementwise (no matrix
product, which TF32 could round on a GPU). Only the ISLOW DCT, whose sums reach 2**40, runs in
float64, on the blocks. The public functions take and return int32 tensors.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg.codec.dct import blockify, unblockify
from kornia_diffjpeg.codec.islow import forward_islow, inverse_islow
from kornia_diffjpeg.codec.modes import STE
from kornia_diffjpeg.codec.options import Subsampling
from kornia_diffjpeg.codec.sampling import downsample_chroma, pad_to_multiple, upsample_chroma_smooth
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


def rgb_to_ycbcr_exact(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) int32 RGB in 0..255 to YCbCr exactly as ``jccolor.c`` computes it."""
    return torch.cat(_rgb_to_ycbcr(rgb.float()), dim=1).int()


def ycbcr_to_rgb_exact(ycbcr: Tensor) -> Tensor:
    """(B, 3, H, W) int32 YCbCr to RGB exactly as ``jdcolor.c`` computes it, range-limited."""
    samples = ycbcr.float()
    return _ycbcr_to_rgb(samples[:, :1], samples[:, 1:]).int()


def _quantize_exact(planes: Tensor, table: Tensor) -> Tensor:
    """Level shift, ISLOW DCT (scaled by 8) and ``sign(x) ((|x| + 4Q) // 8Q)`` per block, as int32."""
    blocks = blockify(planes - 128.0)
    shape = blocks.shape
    flat = (shape[0], shape[1:-1].numel(), 64)  # explicit: an empty batch has no -1 to infer
    coefficients = forward_islow(blocks.view(*shape[:-1], 8, 8)).view(flat)
    divisor = 8.0 * table.reshape(shape[0], 1, 64).double()
    # trunc(x / 8Q + sign(x) / 2) = sign(x) floor((|x| + 4Q) / 8Q): the quotient is exact at halves and at
    # least 1/2040 away from the next integer otherwise, far above float64's rounding.
    quotient = coefficients.div_(divisor)
    return quotient.add_(torch.sign(quotient), alpha=0.5).trunc_().view(shape).int()


def _reconstruct_exact(blocks: Tensor, table: Tensor, size: tuple[int, int]) -> Tensor:
    """Dequantize, ISLOW IDCT, +128 and range limit, cropped to ``size``: float32 samples."""
    shape = blocks.shape
    dequantized = blocks.double().view(shape[0], shape[1:-1].numel(), 64).mul_(table.reshape(shape[0], 1, 64))
    samples = inverse_islow(dequantized.view(*shape[:-1], 8, 8)).view(shape)
    planes = unblockify(samples.add_(128.0).clamp_(0.0, 255.0).float())
    if tuple(planes.shape[-2:]) != tuple(size):
        planes = planes[..., : size[0], : size[1]]
    return planes


def encode_exact(
    samples: Tensor, qt_y: Tensor, qt_c: Tensor | None, subsampling: Subsampling
) -> tuple[Tensor, Tensor | None]:
    """Quantized coefficients (int32) of 8-bit images (B, C, H, W) int32, tables (B, 8, 8) int32."""
    with torch.no_grad():
        samples = samples.float()
        if samples.shape[1] == 1:
            return _quantize_exact(pad_to_multiple(samples, 8, 8), qt_y), None
        if qt_c is None:
            raise ValueError("qt_c is required for RGB samples")
        luma, chroma = _rgb_to_ycbcr(samples)
        coded_luma = _quantize_exact(pad_to_multiple(luma, 8, 8), qt_y)
        coded_chroma = _quantize_exact(downsample_chroma(chroma, subsampling, _INTEGER_OPS), qt_c)
        return coded_luma, coded_chroma


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
