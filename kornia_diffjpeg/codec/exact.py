"""The exact face: integer tensors, bit for bit what libjpeg-turbo computes (default settings).

Color conversion in 16-bit fixed point (``jccolor.c``, ``jdcolor.c``), the ISLOW integer DCT
(``islow.py``), quantization with halves away from zero (``jcdctmgr.c``), and the shared chroma
resampling and edge replication of ``sampling.py`` run with integer shifts.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg.codec.dct import blockify, unblockify
from kornia_diffjpeg.codec.islow import forward_islow, inverse_islow
from kornia_diffjpeg.codec.modes import Exact
from kornia_diffjpeg.codec.options import Subsampling
from kornia_diffjpeg.codec.sampling import downsample_chroma, pad_to_multiple, upsample_chroma

__all__ = ["decode_exact", "encode_exact", "rgb_to_ycbcr_exact", "ycbcr_to_rgb_exact"]

_SCALE_BITS = 16
_ONE_HALF = 1 << (_SCALE_BITS - 1)
_CBCR_OFFSET = 128 << _SCALE_BITS
_OPS = Exact()


def _fix(x: float) -> int:
    return int(x * (1 << _SCALE_BITS) + 0.5)


def rgb_to_ycbcr_exact(rgb: Tensor) -> Tensor:
    """(B, 3, H, W) int32 RGB in 0..255 to YCbCr exactly as ``jccolor.c`` computes it."""
    red, green, blue = rgb.unbind(1)
    luma = (_fix(0.299) * red + _fix(0.587) * green + _fix(0.114) * blue + _ONE_HALF) >> _SCALE_BITS
    cb = (-_fix(0.16874) * red - _fix(0.33126) * green + _fix(0.5) * blue + _CBCR_OFFSET + _ONE_HALF - 1) >> _SCALE_BITS
    cr = (_fix(0.5) * red - _fix(0.41869) * green - _fix(0.08131) * blue + _CBCR_OFFSET + _ONE_HALF - 1) >> _SCALE_BITS
    return torch.stack((luma, cb, cr), dim=1)


def ycbcr_to_rgb_exact(ycbcr: Tensor) -> Tensor:
    """(B, 3, H, W) int32 YCbCr to RGB exactly as ``jdcolor.c`` computes it, range-limited."""
    luma, cb, cr = ycbcr.unbind(1)
    cb, cr = cb - 128, cr - 128
    red = luma + ((_fix(1.402) * cr + _ONE_HALF) >> _SCALE_BITS)
    green = luma + ((-_fix(0.34414) * cb - _fix(0.71414) * cr + _ONE_HALF) >> _SCALE_BITS)
    blue = luma + ((_fix(1.772) * cb + _ONE_HALF) >> _SCALE_BITS)
    return torch.stack((red, green, blue), dim=1).clamp_(0, 255)


def _quantize_exact(planes: Tensor, table: Tensor) -> Tensor:
    """Level shift, ISLOW DCT (scaled by 8) and ``sign(x) ((|x| + 4Q) // 8Q)`` per block."""
    blocks = blockify(planes - 128)
    shape = blocks.shape
    coefficients = forward_islow(blocks.reshape(*shape[:-1], 8, 8)).reshape(shape)
    divisor = 8.0 * table.reshape(-1, 1, 1, 1, 64).double()
    # Integer division in float64: exact, as the quotient is at least 1/2040 away from the next integer.
    magnitude = torch.floor((coefficients.abs() + divisor / 2) / divisor)
    return torch.copysign(magnitude, coefficients).int()


def _reconstruct_exact(blocks: Tensor, table: Tensor, size: tuple[int, int]) -> Tensor:
    """Dequantize, ISLOW IDCT, +128 and range limit, cropped to ``size``."""
    dequantized = blocks * table.reshape(-1, 1, 1, 1, 64)
    shape = dequantized.shape
    samples = inverse_islow(dequantized.reshape(*shape[:-1], 8, 8)).reshape(shape).int()
    return (unblockify(samples)[..., : size[0], : size[1]] + 128).clamp_(0, 255)


def encode_exact(
    samples: Tensor, qt_y: Tensor, qt_c: Tensor | None, subsampling: Subsampling
) -> tuple[Tensor, Tensor | None]:
    """Quantized coefficients (int32) of 8-bit images (B, C, H, W) int32, tables (B, 8, 8) int32."""
    if samples.shape[1] == 1:
        return _quantize_exact(pad_to_multiple(samples, 8, 8), qt_y), None
    ycbcr = rgb_to_ycbcr_exact(samples)
    luma = _quantize_exact(pad_to_multiple(ycbcr[:, :1], 8, 8), qt_y)
    chroma = _quantize_exact(downsample_chroma(ycbcr[:, 1:], subsampling, _OPS), qt_c)
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
    height, width = image_size
    decoded_luma = _reconstruct_exact(luma, qt_y, image_size)
    if chroma is None:
        return decoded_luma
    decoded_chroma = _reconstruct_exact(chroma, qt_c, chroma_size)
    decoded_chroma = upsample_chroma(decoded_chroma, subsampling, _OPS)[..., :height, :width]
    return ycbcr_to_rgb_exact(torch.cat((decoded_luma, decoded_chroma), dim=1))
