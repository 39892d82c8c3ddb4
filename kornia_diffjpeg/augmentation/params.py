"""Settings of the JPEG augmentations: argument parsing, the bounded reparameterization, the draw.

Learnable settings live unconstrained and are mapped into their valid interval by a scaled sigmoid,
so an optimizer can move them anywhere without leaving the interval and without a clamp that would
zero the gradient at the boundary:

- a quality ``q = 1 + 99 * sigmoid(quality_logit)`` lies in (1, 100);
- a range ``lo = 1 + 99 * sigmoid(low_logit)``, ``hi = lo + (100 - lo) * sigmoid(width_logit)``
  satisfies ``1 < lo <= hi < 100`` by construction;
- a table ``Q = 1 + 254 * sigmoid(table_logit)`` lies in (1, 255).

Initial values on a bound (quality 1 or 100, table entry 1 or 255, ``lo == hi``) start a hair
(``1e-6`` of the interval) inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any

import torch
from kornia.augmentation.random_generator import RandomGeneratorBase, UniformDistribution
from kornia.augmentation.utils import _adapted_rsampling
from torch import Tensor

from kornia_diffjpeg._checks import check_quality, check_real_tensor, check_table

__all__ = [
    "QUALITY_BOUNDS",
    "TABLE_BOUNDS",
    "QualityGenerator",
    "bounded",
    "check_probability",
    "parse_quality",
    "parse_quality_range",
    "parse_table",
    "unbounded",
]

QUALITY_BOUNDS = (1.0, 100.0)
TABLE_BOUNDS = (1.0, 255.0)
_INSIDE = 1e-6  # how far inside its interval a value on a bound starts when made learnable


def bounded(logit: Tensor, low: float | Tensor, high: float | Tensor) -> Tensor:
    """``low + (high - low) * sigmoid(logit)``: an unconstrained value mapped into (low, high)."""
    return low + (high - low) * torch.sigmoid(logit)


def unbounded(value: Tensor | float, low: float, high: float) -> Tensor:
    """The logit that :func:`bounded` maps to ``value`` (computed in float64, returned in float32)."""
    fraction = (torch.as_tensor(value, dtype=torch.float64) - low) / (high - low)
    return torch.logit(fraction.clamp(_INSIDE, 1.0 - _INSIDE)).float()


def check_probability(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"p must be a number in [0, 1], got {type(value).__name__}")
    # Compared as given (also rejects NaN): float() of a huge int overflows.
    if not 0.0 <= value <= 1.0:  # type: ignore[operator]
        raise ValueError(f"p must be in [0, 1], got {value}")
    return float(value)


def _readable_setting(name: str, value: Tensor) -> None:
    """A tensor a setting is read from: real-valued (not bool, complex or float8), with data (not meta)."""
    check_real_tensor(name, value)
    if value.is_meta:
        raise ValueError(f"{name} is on the meta device: a setting needs a value, give a number or a tensor with data")


def _as_number(name: str, value: Any) -> float:
    if isinstance(value, Tensor) and value.numel() == 1 and value.dtype != torch.bool:
        _readable_setting(name, value)
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a number in [0, 100], got {type(value).__name__}")
    check_quality(value, 1, torch.device("cpu"))  # the codec's own range check and message (no float() overflow)
    return float(value)


def parse_quality(quality: Any) -> float | None:
    """A fixed quality: a number (or one-element tensor) in [0, 100], or None."""
    return None if quality is None else _as_number("quality", quality)


def parse_quality_range(quality: Any) -> tuple[float, float]:
    """``(lo, hi)`` from a number q (exactly q: ``(q, q)``) or a pair with ``1 <= lo <= hi <= 100``."""
    if isinstance(quality, Tensor):
        if quality.numel() not in (1, 2):
            shape = tuple(quality.shape)
            raise ValueError(f"quality must be a number or a (lo, hi) pair, got a tensor of shape {shape}")
        if quality.dtype != torch.bool:  # bools are refused below, with the message of a bool number
            _readable_setting("quality", quality)
        quality = quality.reshape(-1).tolist()
        quality = quality[0] if len(quality) == 1 else quality
    # Text and bytes are sequences too: b"2Z" would read as the pair (50, 90).
    if isinstance(quality, Sequence) and not isinstance(quality, (str, bytes, bytearray, memoryview)):
        if len(quality) != 2:
            raise ValueError(f"quality must be a number or a (lo, hi) pair, got a sequence of length {len(quality)}")
        low, high = (_as_number("quality", q) for q in quality)
        if low > high:
            raise ValueError(f"quality range (lo, hi) must have lo <= hi, got ({low}, {high})")
        return low, high
    if quality is None or isinstance(quality, bool) or not isinstance(quality, Real):
        raise TypeError(f"quality must be a number or a (lo, hi) pair of numbers, got {type(quality).__name__}")
    low = _as_number("quality", quality)
    return low, low


def parse_table(name: str, table: Any) -> Tensor | None:
    """A fixed (8, 8) quantization table with values in [1, 255] as a float32 tensor, or None."""
    if table is None:
        return None
    if not isinstance(table, Tensor):
        try:
            table = torch.as_tensor(table, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError, OverflowError) as error:
            raise TypeError(f"{name} must be a tensor of shape (8, 8), got {type(table).__name__}") from error
    if tuple(table.shape) != (8, 8):
        raise ValueError(f"{name} must have shape (8, 8), got shape {tuple(table.shape)}")
    check_table(name, table, 1, table.device)  # dtype and [1, 255] checks, the codec's messages
    return table.detach().to(torch.float32).clone()


class QualityGenerator(RandomGeneratorBase):
    r"""Draw the uniform variate of each sample's JPEG quality.

    The augmentation maps the draw ``u ~ U(0, 1)`` to the quality ``q = lo + (hi - lo) * u`` with its
    current range, so a learnable range gets gradients through ``q`` (the reparameterization trick)
    and a replay with the stored ``u`` codes at the same qualities.

    Returns:
        A dict with ``quality_u``: (B,) draws in [0, 1), one repeated for the batch if ``same_on_batch``.
    """

    def make_samplers(self, device: torch.device, dtype: torch.dtype) -> None:
        zero, one = torch.tensor(0.0, device=device, dtype=dtype), torch.tensor(1.0, device=device, dtype=dtype)
        self.unit_sampler = UniformDistribution(zero, one, validate_args=False)

    def forward(self, batch_shape: tuple[int, ...], same_on_batch: bool = False) -> dict[str, Tensor]:
        return {"quality_u": _adapted_rsampling((batch_shape[0],), self.unit_sampler, same_on_batch)}

    def __repr__(self) -> str:
        return "QualityGenerator(u ~ U(0, 1))"
