"""8x8 blocks and the orthonormal 2-D DCT used by JPEG (``F = D X D^T``)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from kornia_diffjpeg.codec.constants import cached

__all__ = ["blockify", "block_dct", "block_idct", "block_transform", "block_transform_t", "dct_matrix", "unblockify"]


def dct_matrix(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
    """The 8-point DCT-II matrix ``D[u, x] = c(u) / 2 cos((2x + 1) u pi / 16)``, c(0) = 1/sqrt(2)."""
    u = torch.arange(8, dtype=torch.float64).view(8, 1)
    x = torch.arange(8, dtype=torch.float64).view(1, 8)
    basis = torch.cos((2 * x + 1) * u * math.pi / 16) / 2
    basis[0] /= math.sqrt(2.0)
    return basis.to(dtype=dtype, device=device)


def _build_block_transform() -> Tensor:
    basis = dct_matrix(torch.float64)
    transform = torch.kron(basis, basis)
    # The DC row is exactly 1/8; the product of two rounded 1/sqrt(8) falls short by an ulp, which
    # would send exact rounding ties of flat blocks the wrong way in float64.
    transform[0] = 0.125
    return transform


def block_transform(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The 64x64 matrix of the 2-D DCT on row-major flattened blocks, cached per dtype and device (do not modify)."""
    return cached("block_dct", dtype, device, _build_block_transform)


def block_transform_t(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The transpose of :func:`block_transform`, contiguous, cached (do not modify)."""
    return cached("block_dct_t", dtype, device, lambda: _build_block_transform().T.contiguous())


def blockify(plane: Tensor) -> Tensor:
    """(B, C, H, W) with H, W multiples of 8 -> (B, C, H/8, W/8, 64) row-major blocks."""
    batch, channels, height, width = plane.shape
    blocks = plane.reshape(batch, channels, height // 8, 8, width // 8, 8).transpose(3, 4)
    return blocks.reshape(batch, channels, height // 8, width // 8, 64)


def unblockify(blocks: Tensor) -> Tensor:
    """Inverse of :func:`blockify`."""
    batch, channels, rows, cols, _ = blocks.shape
    plane = blocks.reshape(batch, channels, rows, cols, 8, 8).transpose(3, 4)
    return plane.reshape(batch, channels, rows * 8, cols * 8)


def block_dct(blocks: Tensor) -> Tensor:
    """Forward DCT of flattened blocks (..., 64); coefficients in natural row-major order."""
    return blocks @ block_transform_t(blocks.dtype, blocks.device)


def block_idct(coefficients: Tensor) -> Tensor:
    """Inverse DCT of flattened coefficient blocks (..., 64)."""
    return coefficients @ block_transform(coefficients.dtype, coefficients.device)
