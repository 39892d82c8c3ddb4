"""How each coding mode rounds, floors and clips.

The codec calls these operations at exactly the places where libjpeg-turbo rounds, floors or
clips. Which value comes out, and which gradient flows back, is the mode's decision (``g`` is the
rounding surrogate, default ``round(x) + (x - round(x))**3``):

==============  ==================================  ===================================  ==========
operation       ``surrogate`` forward               ``ste`` forward                      backward
==============  ==================================  ===================================  ==========
quantize_round  ``g(x)``                            ``round(x)`` (halves away from 0)    ``g'(x)``
round_sample    ``g(x)``                            ``floor(x + 1/2)``                   1
shift_right(k)  ``g((x - (2**k - 1) / 2) / 2**k)``  ``floor(x / 2**k)``                  ``2**-k``
clip            soft clip (slope 1e-3 outside)      hard clip                            soft clip'
==============  ==================================  ===================================  ==========

The 8-bit sample roundings and integer shifts of the pixel stages pass gradients with their mean
slope: they are fine-grained (one gray level) and a surrogate's derivative there would only add
per-pixel noise, or vanish on integer-valued samples. Their surrogate forward snaps values towards
the integers the real codec produces. Quantization tables are handled in ``tables.py``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg.codec.surrogates import (
    RoundingSurrogate,
    differentiable_clip,
    round_half_away,
    straight_through,
)

__all__ = ["Discretization", "SmoothDiscretization", "StraightThroughDiscretization"]


def _centered_shift(x: Tensor, bits: int) -> Tensor:
    """``x / 2**bits`` moved so that rounding it gives ``floor(x / 2**bits)`` for integer x."""
    divisor = float(1 << bits)
    return (x - (divisor - 1.0) / 2.0) / divisor


class Discretization:
    """Interface of the rounding, flooring and clipping operations of one coding mode.

    Attributes:
        interpolates_tables: whether tables at fractional qualities interpolate linearly between
            the integer qualities' libjpeg tables (smooth face) or follow libjpeg's formula.
    """

    interpolates_tables: bool = False

    def __init__(self, rounding: RoundingSurrogate) -> None:
        self.rounding = rounding

    def quantize_round(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def round_sample(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def shift_right(self, x: Tensor, bits: int) -> Tensor:
        raise NotImplementedError

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        raise NotImplementedError


class SmoothDiscretization(Discretization):
    """The smooth face: surrogates in the forward pass (mode ``"surrogate"``)."""

    interpolates_tables = True

    def quantize_round(self, x: Tensor) -> Tensor:
        return self.rounding(x)

    def round_sample(self, x: Tensor) -> Tensor:
        return straight_through(self.rounding(x), x)

    def shift_right(self, x: Tensor, bits: int) -> Tensor:
        centered = _centered_shift(x, bits)
        return straight_through(self.rounding(centered), centered)

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        return differentiable_clip(x, low, high)


class StraightThroughDiscretization(Discretization):
    """True rounding, flooring and clipping forward, the smooth face's gradients backward."""

    def quantize_round(self, x: Tensor) -> Tensor:
        return straight_through(round_half_away(x), self.rounding(x))

    def round_sample(self, x: Tensor) -> Tensor:
        return straight_through(torch.floor(x + 0.5), x)

    def shift_right(self, x: Tensor, bits: int) -> Tensor:
        scaled = x / float(1 << bits)
        return straight_through(torch.floor(scaled), scaled)

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        return straight_through(torch.clamp(x, low, high), differentiable_clip(x, low, high))
