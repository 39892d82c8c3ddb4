"""Differentiable stand-ins for rounding, flooring and clipping.

Every surrogate ``g`` approximates ``round(x)`` (halves away from zero, as libjpeg's quantizer
rounds). Flooring is rounding shifted by one half: ``floor(x) = round(x - 1/2)`` for the
non-negative values the codec floors. Straight-through versions return the true value in the
forward pass and the surrogate's derivative in the backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = [
    "ROUNDING_SURROGATES",
    "clip_straight_through",
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
    return torch.trunc(x + torch.copysign(x.new_tensor(0.5), x))


class _PolynomialRound(torch.autograd.Function):
    """``round(x) + (x - round(x))**3`` with a hand-written backward ``3 (x - round(x))**2``.

    Saves one tensor instead of autograd's chain of temporaries: this runs on every coefficient.
    """

    generate_vmap_rule = True  # torch.func.vmap derives the batched rule from forward and setup_context

    @staticmethod
    def forward(x: Tensor) -> tuple[Tensor, Tensor]:
        nearest = round_half_away(x)
        residual = x - nearest
        return residual.pow(3).add_(nearest), residual

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001
        ctx.save_for_backward(output[1])
        ctx.mark_non_differentiable(output[1])

    @staticmethod
    def backward(ctx, grad: Tensor, _unused: Tensor) -> Tensor:  # noqa: ANN001
        (residual,) = ctx.saved_tensors
        return grad * residual.square().mul_(3.0)


def snap_polynomial(x: Tensor) -> Tensor:
    """The value of :func:`polynomial_round` (halves to even, no graph): a cheap forward for sample roundings."""
    nearest = torch.round(x)
    return torch.sub(x, nearest).pow_(3).add_(nearest)


def polynomial_round(x: Tensor) -> Tensor:
    """Cubic rounding surrogate ``round(x) + (x - round(x))**3`` (Shin and Song).

    Example:
        >>> polynomial_round(torch.tensor([0.25, 1.5, -2.0]))
        tensor([ 0.0156,  1.8750, -2.0000])
    """
    return _PolynomialRound.apply(x)[0]


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


def resolve_rounding(rounding: str | RoundingSurrogate) -> RoundingSurrogate:
    """Turn a surrogate name or callable into the callable."""
    if callable(rounding):
        return rounding
    if isinstance(rounding, str) and rounding in ROUNDING_SURROGATES:
        return ROUNDING_SURROGATES[rounding]
    raise ValueError(f"rounding must be one of {sorted(ROUNDING_SURROGATES)} or a callable, got {rounding!r}")


def straight_through(forward_value: Tensor, surrogate_value: Tensor) -> Tensor:
    """``forward_value`` in the forward pass, the gradient of ``surrogate_value`` in the backward pass."""
    if not surrogate_value.requires_grad:
        return forward_value.detach()
    return forward_value.detach() + (surrogate_value - surrogate_value.detach())


class _SlopedClip(torch.autograd.Function):
    """Clip to [low, high] (softly: slope ``slope`` outside, or hard); gradient 1 inside, ``slope`` outside."""

    generate_vmap_rule = True  # torch.func.vmap derives the batched rule from forward and setup_context

    @staticmethod
    def forward(x: Tensor, low: float, high: float, slope: float, soft: bool) -> Tensor:
        hard = torch.clamp(x, low, high)
        return torch.lerp(hard, x, slope) if soft else hard

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001
        x, low, high, slope, _ = inputs
        ctx.save_for_backward(x)
        ctx.bounds = (low, high, slope)

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001, ANN205
        (x,) = ctx.saved_tensors
        low, high, slope = ctx.bounds
        inside = (x >= low) & (x <= high)
        return torch.where(inside, grad, grad * slope), None, None, None, None


def differentiable_clip(x: Tensor, low: float, high: float, slope: float = CLIP_SLOPE) -> Tensor:
    """Soft clip: identity inside ``[low, high]``, slope ``slope`` outside, so the gradient never vanishes.

    Example:
        >>> [round(v, 3) for v in differentiable_clip(torch.tensor([-10.0, 0.5, 265.0]), 0.0, 255.0).tolist()]
        [-0.01, 0.5, 255.01]
    """
    return _SlopedClip.apply(x, low, high, slope, True)


def clip_straight_through(x: Tensor, low: float, high: float, slope: float = CLIP_SLOPE) -> Tensor:
    """Hard clip forward, the soft clip's gradient (1 inside, ``slope`` outside) backward."""
    return _SlopedClip.apply(x, low, high, slope, False)
