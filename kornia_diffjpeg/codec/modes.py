"""How each coding mode rounds, floors and clips.

The codec calls these operations at exactly the places where libjpeg-turbo rounds, floors or
clips. Which value comes out, and which gradient flows back, is the mode's decision (``g`` is the
rounding surrogate; the default, ``"dithered"``, has the value ``round(x) + (x - round(x))**3`` and
as its derivative the slope of rounding averaged over a dither of three gray levels, which depends on
the quantization step: see :func:`~kornia_diffjpeg.codec.surrogates.dithered_round`):

==============  ==================================  ===================================  ==========
operation       ``surrogate`` forward               ``ste`` forward                      backward
==============  ==================================  ===================================  ==========
read_samples    identity (the image as given)       ``floor(x + 1/2)`` (8-bit input)     1
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
    CLIP_SLOPE,
    RoundingSurrogate,
    _dithered_round,
    _rounded_clip,
    dithered_round,
    dithered_round_straight_through,
    polynomial_round,
    polynomial_round_straight_through,
    round_half_away,
    rounded_sample,
    straight_through,
)

__all__ = ["STE", "Exact", "Mode", "Surrogate"]


def _value_only(function, x: Tensor) -> Tensor:  # noqa: ANN001
    """Evaluate ``function`` without recording a graph (its gradient is replaced anyway)."""
    with torch.no_grad():
        return function(x)


class Mode:
    """Interface of the rounding, flooring and clipping operations of one coding mode.

    Attributes:
        interpolates_tables: whether tables at fractional qualities interpolate linearly between
            the integer qualities' libjpeg tables (smooth face) or follow libjpeg's formula.
        reads_exact_samples: whether the encoder rounds the image to 8-bit samples first.
    """

    interpolates_tables: bool = False
    reads_exact_samples: bool = False

    def __init__(self, rounding: RoundingSurrogate) -> None:
        self.rounding = rounding

    def read_samples(self, x: Tensor) -> Tensor:
        """The 0..255 image as the encoder reads it (libjpeg reads 8-bit samples)."""
        raise NotImplementedError

    def quantize_round(self, x: Tensor, step: Tensor) -> Tensor:
        """Round ``x``, coefficients in units of the quantization step ``step`` (their table entries)."""
        raise NotImplementedError

    def round_sample(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def shift_right(self, x: Tensor, bits: int, bias: float = 0.0) -> Tensor:
        """``(x + bias) >> bits``: floor division of integer samples by a power of two."""
        raise NotImplementedError

    def floor_offset(self, bits: int) -> float:
        """What :meth:`floor_scaled` needs added to ``(x + bias) / 2**bits`` to give ``(x + bias) >> bits``."""
        raise NotImplementedError

    def floor_scaled(self, x: Tensor) -> Tensor:
        """The flooring of :meth:`shift_right` applied to ``(x + bias) / 2**bits + floor_offset(bits)``."""
        raise NotImplementedError

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        raise NotImplementedError

    def round_clip(self, x: Tensor, low: float, high: float, divisor: float = 1.0) -> Tensor:
        """``clip(round_sample(x), low, high) / divisor`` in one step."""
        return self.clip(self.round_sample(x), low, high) / divisor


class Surrogate(Mode):
    """The smooth face: surrogates in the forward pass (mode ``"surrogate"``)."""

    interpolates_tables = True

    def __init__(self, rounding: RoundingSurrogate) -> None:
        super().__init__(rounding)
        # The built-in cubic surrogates have fused steps; a custom callable runs as given.
        self.fused = rounding is polynomial_round or rounding is dithered_round

    def read_samples(self, x: Tensor) -> Tensor:
        return x

    def quantize_round(self, x: Tensor, step: Tensor) -> Tensor:
        if self.rounding is dithered_round:
            return _dithered_round(x, step, False)  # the codec's own coefficients and tables: unchecked
        return self.rounding(x)

    def round_sample(self, x: Tensor) -> Tensor:
        if self.fused:  # ties are immaterial here: halves to even
            return rounded_sample(x, "polynomial")
        return straight_through(_value_only(self.rounding, x), x)

    def shift_right(self, x: Tensor, bits: int, bias: float = 0.0) -> Tensor:
        # Centered so that rounding gives floor((x + bias) / 2**bits) for integer x.
        divisor = float(1 << bits)
        return self.floor_scaled(torch.add(x, bias - (divisor - 1.0) / 2.0).mul_(1.0 / divisor))

    def floor_offset(self, bits: int) -> float:
        return -(1.0 - 1.0 / float(1 << bits)) / 2.0

    def floor_scaled(self, x: Tensor) -> Tensor:
        return self.round_sample(x)

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        return _rounded_clip(x, "none", low, high, CLIP_SLOPE, True, 1.0)  # constants: unchecked

    def round_clip(self, x: Tensor, low: float, high: float, divisor: float = 1.0) -> Tensor:
        if self.fused:
            return _rounded_clip(x, "polynomial", low, high, CLIP_SLOPE, True, divisor)
        return _rounded_clip(self.round_sample(x), "none", low, high, CLIP_SLOPE, True, divisor)


class STE(Mode):
    """True rounding, flooring and clipping forward, the smooth face's gradients backward."""

    reads_exact_samples = True

    def read_samples(self, x: Tensor) -> Tensor:
        return self.round_sample(x)

    def quantize_round(self, x: Tensor, step: Tensor) -> Tensor:
        if self.rounding is dithered_round:
            return dithered_round_straight_through(x, step)
        if self.rounding is polynomial_round:
            return polynomial_round_straight_through(x)
        return straight_through(round_half_away(x), self.rounding(x))

    def round_sample(self, x: Tensor) -> Tensor:
        return rounded_sample(x, "half_up")

    def shift_right(self, x: Tensor, bits: int, bias: float = 0.0) -> Tensor:
        return self.floor_scaled(torch.add(x, bias).mul_(1.0 / float(1 << bits)))

    def floor_offset(self, bits: int) -> float:
        return 0.0

    def floor_scaled(self, x: Tensor) -> Tensor:
        return rounded_sample(x, "floor")

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        return _rounded_clip(x, "none", low, high, CLIP_SLOPE, False, 1.0)

    def round_clip(self, x: Tensor, low: float, high: float, divisor: float = 1.0) -> Tensor:
        return _rounded_clip(x, "half_up", low, high, CLIP_SLOPE, False, divisor)


class Exact(Mode):
    """The exact face of the pixel stages: integer tensors, libjpeg's shifts and range limits."""

    def __init__(self) -> None:
        super().__init__(rounding=round_half_away)

    def round_sample(self, x: Tensor) -> Tensor:
        return x

    def shift_right(self, x: Tensor, bits: int, bias: float = 0.0) -> Tensor:
        return torch.bitwise_right_shift(x + int(bias), bits)

    def clip(self, x: Tensor, low: float, high: float) -> Tensor:
        return torch.clamp(x, int(low), int(high))
