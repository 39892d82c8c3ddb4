"""Differentiable stand-ins for rounding, flooring and clipping.

Every surrogate ``g`` approximates ``round(x)`` (halves away from zero, as libjpeg's quantizer
rounds). Flooring is rounding shifted by one half: ``floor(x) = round(x - 1/2)`` for the
non-negative values the codec floors. Straight-through versions return the true value in the
forward pass and the surrogate's derivative in the backward pass.
"""

from __future__ import annotations

import math
from typing import Callable, Union

import torch
from torch import Tensor

__all__ = [
    "ROUNDING_SURROGATES",
    "RoundingSurrogate",
    "differentiable_clip",
    "fourier_round",
    "linear_round",
    "polynomial_round",
    "resolve_rounding",
    "round_half_away",
    "sigmoid_round",
    "straight_through",
    "tanh_round",
]

RoundingSurrogate = Callable[[Tensor], Tensor]

#: Slope of the soft clip outside its bounds (the paper's gamma).
CLIP_SLOPE = 1e-3


def round_half_away(x: Tensor) -> Tensor:
    """Round to the nearest integer, halves away from zero (libjpeg's quantizer convention)."""
    return torch.sign(x) * torch.floor(x.abs() + 0.5)


def polynomial_round(x: Tensor) -> Tensor:
    """Cubic rounding surrogate ``round(x) + (x - round(x))**3`` (Shin and Song)."""
    nearest = round_half_away(x).detach()
    return nearest + (x - nearest) ** 3


def linear_round(x: Tensor) -> Tensor:
    """Rounding with a constant slope of 0.1 between the integers: ``round(x) + 0.1 (x - round(x))``."""
    nearest = round_half_away(x).detach()
    return nearest + 0.1 * (x - nearest)


def sigmoid_round(x: Tensor, steepness: float = 60.0) -> Tensor:
    """Logistic step between consecutive integers: ``floor(x) + sigmoid(k (frac(x) - 1/2))``."""
    base = torch.floor(x).detach()
    return base + torch.sigmoid(steepness * (x - base - 0.5))


def tanh_round(x: Tensor, steepness: float = 10.0) -> Tensor:
    """A tanh step between consecutive integers, normalized so it is continuous at the integers."""
    base = torch.floor(x).detach()
    half = math.tanh(steepness / 2.0)
    return base + 0.5 + 0.5 * torch.tanh(steepness * (x - base - 0.5)) / half


def fourier_round(x: Tensor, terms: int = 10) -> Tensor:
    """Truncated Fourier series of the sawtooth: ``x - sum_k (-1)^(k+1) sin(2 pi k x) / (k pi)``."""
    sawtooth = torch.zeros_like(x)
    for k in range(1, terms + 1):
        sawtooth = sawtooth + ((-1.0) ** (k + 1) / (k * math.pi)) * torch.sin(2.0 * math.pi * k * x)
    return x - sawtooth


ROUNDING_SURROGATES: dict[str, RoundingSurrogate] = {
    "polynomial": polynomial_round,
    "linear": linear_round,
    "sigmoid": sigmoid_round,
    "tanh": tanh_round,
    "fourier": fourier_round,
}


def resolve_rounding(rounding: Union[str, RoundingSurrogate]) -> RoundingSurrogate:
    """Turn a surrogate name or callable into the callable."""
    if callable(rounding):
        return rounding
    if isinstance(rounding, str) and rounding in ROUNDING_SURROGATES:
        return ROUNDING_SURROGATES[rounding]
    raise ValueError(
        f"rounding must be one of {sorted(ROUNDING_SURROGATES)} or a callable, got {rounding!r}"
    )


def straight_through(forward_value: Tensor, surrogate_value: Tensor) -> Tensor:
    """``forward_value`` in the forward pass, the gradient of ``surrogate_value`` in the backward pass."""
    return forward_value.detach() + (surrogate_value - surrogate_value.detach())


def differentiable_clip(x: Tensor, low: float, high: float, slope: float = CLIP_SLOPE) -> Tensor:
    """Soft clip: identity inside ``[low, high]``, slope ``slope`` outside, so the gradient never vanishes."""
    hard = torch.clamp(x, low, high)
    return hard + slope * (x - hard)
