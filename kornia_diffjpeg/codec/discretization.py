"""How each coding mode rounds, floors and clips.

The codec calls these operations at exactly the places where libjpeg-turbo rounds, floors or
clips. Which value comes out, and which gradient flows back, is the mode's decision:

=================  =======================================  ==================================
operation          ``surrogate`` (smooth face)               ``ste`` (true forward)
=================  =======================================  ==================================
quantize_round     rounding surrogate ``g(x)``               ``round(x)``, backward ``g'(x)``
table_floor        ``g(x - 1/2)``, backward slope 1           ``floor(x)``, backward slope 1
clip               soft clip (slope 1e-3 outside)            hard clip, backward of soft clip
round_sample       identity (expected value)                 ``floor(x + 1/2)``, backward 1
shift_right(k)     ``(x - (2**k - 1) / 2) / 2**k``           ``floor(x / 2**k)``, backward 2**-k
=================  =======================================  ==================================

Table discretization passes gradients with slope 1 (the staircase's mean slope) so that the
gradient w.r.t. quality and tables never vanishes at integer table scales, where the derivative of
any rounding surrogate is flat. The 8-bit sample roundings of the pixel stages use the identity as
their smooth face: it is the expected value of the rounding and costs at most half a gray level.
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


class Discretization:
    """Interface of the rounding, flooring and clipping operations of one coding mode."""

    def quantize_round(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def table_floor(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        raise NotImplementedError

    def round_sample(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def shift_right(self, x: Tensor, bits: int) -> Tensor:
        raise NotImplementedError


class SmoothDiscretization(Discretization):
    """The smooth face: surrogates forward and backward (mode ``"surrogate"``)."""

    def __init__(self, rounding: RoundingSurrogate) -> None:
        self.rounding = rounding

    def quantize_round(self, x: Tensor) -> Tensor:
        return self.rounding(x)

    def table_floor(self, x: Tensor) -> Tensor:
        return straight_through(self.rounding(x - 0.5), x)

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        return differentiable_clip(x, low, high)

    def round_sample(self, x: Tensor) -> Tensor:
        return x

    def shift_right(self, x: Tensor, bits: int) -> Tensor:
        divisor = float(1 << bits)
        return (x - (divisor - 1.0) / 2.0) / divisor


class StraightThroughDiscretization(Discretization):
    """True rounding, flooring and clipping forward, the smooth face's derivative backward."""

    def __init__(self, rounding: RoundingSurrogate) -> None:
        self.rounding = rounding

    def quantize_round(self, x: Tensor) -> Tensor:
        return straight_through(round_half_away(x), self.rounding(x))

    def table_floor(self, x: Tensor) -> Tensor:
        return straight_through(torch.floor(x), x)

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        return straight_through(torch.clamp(x, low, high), differentiable_clip(x, low, high))

    def round_sample(self, x: Tensor) -> Tensor:
        return straight_through(torch.floor(x + 0.5), x)

    def shift_right(self, x: Tensor, bits: int) -> Tensor:
        scaled = x / float(1 << bits)
        return straight_through(torch.floor(scaled), scaled)
