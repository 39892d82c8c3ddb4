"""RGB <-> YCbCr conversion (``jccolor.c`` / ``jdcolor.c``) with optionally learnable parameters."""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg.codec.constants import cached, derived

__all__ = [
    "JFIF_OFFSET",
    "JFIF_RGB_TO_YCBCR",
    "color_inverse",
    "jfif_color",
    "jfif_color_cached",
    "scaled_color",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
]

#: The JFIF matrix with the 5-digit constants libjpeg's fixed-point tables are built from.
JFIF_RGB_TO_YCBCR = (
    (0.299, 0.587, 0.114),
    (-0.16874, -0.33126, 0.5),
    (0.5, -0.41869, -0.08131),
)
JFIF_OFFSET = (0.0, 128.0, 128.0)


def jfif_color(dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> tuple[Tensor, Tensor]:
    """The JFIF RGB -> YCbCr matrix (3, 3) and offset (3,), on the 0..255 scale.

    Example:
        >>> matrix, offset = jfif_color()
        >>> matrix.shape, offset.tolist()
        (torch.Size([3, 3]), [0.0, 128.0, 128.0])
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:  # integers would truncate the constants
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    return (
        torch.tensor(JFIF_RGB_TO_YCBCR, dtype=dtype, device=device),
        torch.tensor(JFIF_OFFSET, dtype=dtype, device=device),
    )


def jfif_color_cached(dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """:func:`jfif_color`, built once per dtype and device (shared tensors: do not modify)."""
    return (
        cached("jfif_matrix", dtype, device, lambda: torch.tensor(JFIF_RGB_TO_YCBCR, dtype=torch.float64)),
        cached("jfif_offset", dtype, device, lambda: torch.tensor(JFIF_OFFSET, dtype=torch.float64)),
    )


def color_inverse(matrix: Tensor, offset: Tensor) -> tuple[Tensor, Tensor]:
    """The YCbCr -> RGB matrix and offset inverting ``(matrix, offset)``, differentiable, without a host sync."""
    if _is_cached_jfif(matrix, offset):
        dtype, device = matrix.dtype, matrix.device  # inverted in the compute dtype, as any other matrix
        return (
            cached("jfif_inverse", dtype, device, lambda: _inverse(*jfif_color(dtype))[0]),
            cached("jfif_inverse_offset", dtype, device, lambda: _inverse(*jfif_color(dtype))[1]),
        )
    return _inverse(matrix, offset)


def scaled_color(matrix: Tensor, offset: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """``(matrix * scale, offset)``: the conversion of images on another scale (cached for the JFIF constants)."""
    if _is_cached_jfif(matrix, offset):
        build = lambda: jfif_color(torch.float64)[0].to(matrix.dtype) * scale  # noqa: E731 (in the compute dtype)
        return cached(("jfif_scaled", scale), matrix.dtype, matrix.device, build), offset
    return matrix * scale, offset


def _is_cached_jfif(matrix: Tensor, offset: Tensor) -> bool:
    if torch.compiler.is_compiling():
        return False
    default = jfif_color_cached(matrix.dtype, matrix.device)
    return matrix is default[0] and offset is default[1]


def _inverse(matrix: Tensor, offset: Tensor) -> tuple[Tensor, Tensor]:
    inverse = torch.linalg.inv_ex(matrix).inverse
    return inverse, -(inverse @ offset)


def _affine_per_pixel(image: Tensor, matrix: Tensor, offset: Tensor) -> Tensor:
    """``matrix @ pixel + offset`` for every pixel of (B, 3, H, W), as one batched matmul with the bias fused."""
    batch, channels, height, width = image.shape
    pixels = image.reshape(batch, channels, height * width)
    # The constants' broadcast forms are kept (no view dispatched per call).
    matrices = derived(matrix, ("batch", batch), lambda m: m.expand(batch, 3, 3))
    out = torch.baddbmm(derived(offset, "column", lambda o: o.view(3, 1)), matrices, pixels)
    return out.view(batch, 3, height, width)


def _check_affine(name: str, image: object, matrix: object, offset: object) -> None:
    """Form checks of the conversions' arguments (no data read), so that a mistake is not a matmul's error."""
    tensors = {name: image, "matrix": matrix, "offset": offset}
    for key, value in tensors.items():
        if not isinstance(value, Tensor) or not value.is_floating_point():
            got = f"dtype {value.dtype}" if isinstance(value, Tensor) else type(value).__name__
            raise TypeError(f"{key} must be a floating-point tensor, got {got}")
    assert isinstance(image, Tensor) and isinstance(matrix, Tensor) and isinstance(offset, Tensor)
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(image.shape)}")
    if tuple(matrix.shape) != (3, 3) or tuple(offset.shape) != (3,):
        raise ValueError(
            f"matrix and offset must have shapes (3, 3) and (3,), got {tuple(matrix.shape)} and {tuple(offset.shape)}"
        )
    if not image.dtype == matrix.dtype == offset.dtype:
        raise TypeError(
            f"{name}, matrix and offset must have one dtype, got {image.dtype}, {matrix.dtype} and {offset.dtype}"
        )


def rgb_to_ycbcr(rgb: Tensor, matrix: Tensor, offset: Tensor) -> Tensor:
    """(B, 3, H, W) RGB in 0..255 to YCbCr: ``matrix @ rgb + offset`` per pixel."""
    _check_affine("rgb", rgb, matrix, offset)
    return _affine_per_pixel(rgb, matrix, offset)


def ycbcr_to_rgb(ycbcr: Tensor, matrix: Tensor, offset: Tensor) -> Tensor:
    """Invert :func:`rgb_to_ycbcr`; the inverse is derived from ``matrix`` so gradients reach it."""
    _check_affine("ycbcr", ycbcr, matrix, offset)
    return _affine_per_pixel(ycbcr, *color_inverse(matrix, offset))
