"""Input checks for the public entry points; messages name the argument, its form and the value."""

from __future__ import annotations

from numbers import Real
from typing import Any

import torch
from torch import Tensor

__all__ = [
    "set_validation",
    "validation_enabled",
    "check_choice",
    "check_color",
    "check_image",
    "check_quality",
    "check_table",
    "values_checkable",
]


_VALIDATION = True


def validation_enabled() -> bool:
    """Whether the public entry points check the values of their inputs (see :class:`set_validation`)."""
    return _VALIDATION


class set_validation:  # noqa: N801 (used like torch.set_grad_enabled: a function and a context manager)
    """Turn the value checks of the public entry points on or off, globally or within a ``with`` block.

    Value checks (finite pixels, quality and table ranges, ...) read data, which costs one host
    sync per call on a GPU. They are on by default; turn them off in a training loop whose inputs
    you trust. Shape, dtype and device checks stay on (they cost nothing). While ``torch.compile``
    traces, value checks are skipped whatever this says.

    Args:
        enabled: whether value checks run.

    Example:
        >>> import kornia_diffjpeg
        >>> with kornia_diffjpeg.set_validation(False):
        ...     kornia_diffjpeg.validation_enabled()
        False
        >>> kornia_diffjpeg.validation_enabled()
        True
    """

    def __init__(self, enabled: bool) -> None:
        global _VALIDATION
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be a bool, got {type(enabled).__name__}")
        self.previous = _VALIDATION
        _VALIDATION = enabled

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        global _VALIDATION
        _VALIDATION = self.previous


def values_checkable() -> bool:
    """Whether value checks (which need a host sync) run: enabled and not while torch.compile traces."""
    return _VALIDATION and not torch.compiler.is_compiling()


def check_choice(name: str, value: Any, choices: Any) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def check_image(image: Any) -> Tensor:
    """Validate an image (*, C, H, W) and return it as (N, C, H, W), the leading dimensions flattened."""
    if not isinstance(image, Tensor):
        raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
    if not image.is_floating_point():
        hint = " Convert uint8 images with image.float() / 255." if image.dtype == torch.uint8 else ""
        raise TypeError(f"image must be a floating-point tensor with values in [0, 1], got dtype {image.dtype}.{hint}")
    if image.ndim < 3:
        raise ValueError(
            f"image must have shape (*, C, H, W), e.g. (B, C, H, W) or (C, H, W), got {tuple(image.shape)}"
        )
    if image.shape[-3] not in (1, 3):
        raise ValueError(f"image must have 1 (grayscale) or 3 (RGB) channels, got shape {tuple(image.shape)}")
    if image.shape[-2] == 0 or image.shape[-1] == 0:
        raise ValueError(f"image must have a non-empty spatial size, got shape {tuple(image.shape)}")
    return image.reshape(-1, *image.shape[-3:]).contiguous()  # one layout, so results do not depend on strides


def _check_device(name: str, value: Tensor, device: torch.device) -> None:
    if value.device != device:
        raise ValueError(f"{name} is on {value.device} but image is on {device}; move it with .to(image.device)")


def _per_sample(expected: str, value: Tensor, batch_shape: tuple[int, ...], trailing: tuple[int, ...]) -> Tensor:
    """A per-sample value of shape (*batch_shape, *trailing), or broadcastable to it, as (N, *trailing)."""
    try:
        return value.broadcast_to((*batch_shape, *trailing)).reshape(-1, *trailing)
    except RuntimeError as error:
        full = tuple((*batch_shape, *trailing))
        raise ValueError(f"{expected}, or broadcastable to {full}, got shape {tuple(value.shape)}") from error


def check_quality(
    quality: Any, batch: int, device: torch.device, batch_shape: tuple[int, ...] | None = None
) -> Tensor | None:
    """Validate a quality and return it as a (N,) tensor (or None).

    Per-sample qualities are (N,) for the flattened batch, or broadcastable to ``batch_shape``, the
    images' leading dimensions (e.g. (B, 1) for clips (B, T, C, H, W)).
    """
    if quality is None:
        return None
    if isinstance(quality, bool) or not isinstance(quality, (Real, Tensor)):
        raise TypeError(f"quality must be a number or a tensor, got {type(quality).__name__}")
    if isinstance(quality, Tensor):
        if quality.dtype == torch.bool or quality.is_complex():
            raise TypeError(f"quality must be a real-valued tensor, got dtype {quality.dtype}")
        _check_device("quality", quality, device)
        flat = quality.ndim <= 1 and quality.numel() in (1, batch)
        expected = f"quality must be a number, a 0-d tensor or a ({batch},) tensor"
        if not flat and (batch_shape is None or quality.ndim > len(batch_shape)):
            raise ValueError(f"{expected}, got shape {tuple(quality.shape)}")
        if values_checkable() and quality.numel() > 0:
            values = quality.detach()
            if not bool(torch.isfinite(values).all()) or float(values.min()) < 1 or float(values.max()) > 100:
                raise ValueError(f"quality must be finite and in [1, 100], got {values.tolist()}")
        if flat:
            return quality.reshape(-1).expand(batch)
        return _per_sample(expected, quality, batch_shape, ())
    if not (1 <= float(quality) <= 100):  # also rejects NaN
        raise ValueError(f"quality must be finite and in [1, 100], got {quality}")
    return torch.full((batch,), float(quality), dtype=torch.float64, device=device)


def check_table(
    name: str, table: Any, batch: int, device: torch.device, batch_shape: tuple[int, ...] | None = None
) -> Tensor | None:
    """Validate a quantization table and return it as (N, 8, 8) (or None).

    Per-sample tables are (N, 8, 8) for the flattened batch, or broadcastable to (*batch_shape, 8, 8).
    """
    if table is None:
        return None
    if not isinstance(table, Tensor):
        try:
            table = torch.as_tensor(table, dtype=torch.float32, device=device)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(
                f"{name} must be a tensor of shape (8, 8) or (B, 8, 8), got {type(table).__name__}"
            ) from error
    if table.dtype == torch.bool or table.is_complex():
        raise TypeError(f"{name} must be a real-valued tensor, got dtype {table.dtype}")
    _check_device(name, table, device)
    flat = table.ndim == 2 or (table.ndim == 3 and table.shape[0] in (1, batch))
    expected = f"{name} must have shape (8, 8) or ({batch}, 8, 8)"
    if table.shape[-2:] != (8, 8) or (not flat and (batch_shape is None or table.ndim > len(batch_shape) + 2)):
        raise ValueError(f"{expected}, got shape {tuple(table.shape)}")
    if values_checkable() and table.numel() > 0:
        values = table.detach()
        if not bool(torch.isfinite(values).all()) or float(values.min()) < 1 or float(values.max()) > 255:
            low, high = float(values.min()), float(values.max())
            raise ValueError(f"{name} values must be finite and in [1, 255], got range [{low}, {high}]")
    if not flat:
        return _per_sample(expected, table, batch_shape, (8, 8))
    return table.expand(batch, 8, 8) if table.ndim == 3 else table.unsqueeze(0).expand(batch, 8, 8)


def check_color(color: Any, device: torch.device) -> tuple[Tensor, Tensor] | None:
    """Validate an RGB -> YCbCr (matrix (3, 3), offset (3,)) pair."""
    if color is None:
        return None
    if not isinstance(color, (tuple, list)) or len(color) != 2 or not all(isinstance(c, Tensor) for c in color):
        raise TypeError("color must be a (matrix, offset) pair of tensors with shapes (3, 3) and (3,)")
    matrix, offset = color
    if tuple(matrix.shape) != (3, 3) or tuple(offset.shape) != (3,):
        raise ValueError(
            "color must be a matrix of shape (3, 3) and an offset of shape (3,), "
            f"got {tuple(matrix.shape)} and {tuple(offset.shape)}"
        )
    if not (matrix.is_floating_point() and offset.is_floating_point()):
        raise TypeError(f"color matrix and offset must be floating point, got {matrix.dtype} and {offset.dtype}")
    _check_device("color matrix", matrix, device)
    _check_device("color offset", offset, device)
    return matrix, offset
