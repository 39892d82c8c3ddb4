"""Differentiable stand-ins for rounding, flooring and clipping.

Every surrogate ``g`` approximates ``round(x)`` (halves away from zero, as libjpeg's quantizer
rounds). Flooring is rounding shifted by one half: ``floor(x) = round(x - 1/2)`` for the
non-negative values the codec floors. Straight-through versions return the true value in the
forward pass and the surrogate's derivative in the backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real

import torch
from torch import Tensor

from kornia_diffjpeg._autograd import FusedFunction
from kornia_diffjpeg._checks import IMAGE_DTYPES, check_number
from kornia_diffjpeg.codec.tracing import is_traced, records_gradient

__all__ = [
    "DITHER_SCALE",
    "ROUNDING_SURROGATES",
    "clip_straight_through",
    "RoundingSurrogate",
    "differentiable_clip",
    "dithered_round",
    "dithered_round_slope",
    "dithered_round_straight_through",
    "fourier_round",
    "linear_round",
    "polynomial_round",
    "polynomial_round_straight_through",
    "rounded_clip",
    "rounded_sample",
    "resolve_rounding",
    "round_half_away",
    "sigmoid_round",
    "straight_through",
    "tanh_round",
]

RoundingSurrogate = Callable[[Tensor], Tensor]

#: Slope of the soft clip outside its bounds (the paper's gamma).
CLIP_SLOPE = 1e-3

#: Standard deviation, on the 0..255 scale of the DCT coefficients, of the Gaussian noise whose
#: expectation :func:`dithered_round`'s gradient takes: about the change a perturbation of a few gray
#: levels makes to a coefficient. 3 beat 2 (the first choice) in the attacks at eps 2/255 on both tuning
#: sets and tied it at eps 1/255 (docs/gradients.md). A backward uses the value its forward ran with.
DITHER_SCALE = 3.0

# The noise in quantization steps is capped here: the two nearest boundaries then carry the comb's
# mass within 6e-4, and the comb still favours the coefficients near a boundary (1.6 there, 0.43
# midway), which the attacks on the tuning photos preferred to the identity.
_MAX_DITHER = 0.25

#: Largest ``z**2`` whose ``exp(-z**2)`` is taken: beyond it the Gaussian's value there (1.05e-20) is kept.
_MAX_EXPONENT = 46.0


def _check_input(x: object, name: str = "x") -> None:
    """A surrogate's input must be a floating-point tensor (integer ones fail deep inside torch's kernels)."""
    if not isinstance(x, Tensor) or x.dtype not in IMAGE_DTYPES:
        got = f"dtype {x.dtype}" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point tensor (float16, bfloat16, float32 or float64), got {got}")


def _step_tensor(x: Tensor, step: object) -> Tensor:
    """The quantization step as a tensor of ``x``'s dtype and device, broadcastable to ``x`` (a step of another
    shape would fail in the backward pass only)."""
    if isinstance(step, bool) or not isinstance(step, (Real, Tensor)):
        raise TypeError(f"step must be a number or a real tensor, got {type(step).__name__}")
    step = torch.as_tensor(step, dtype=x.dtype, device=x.device)
    if step.ndim > x.ndim or any(s not in (1, n) for s, n in zip(step.shape[::-1], x.shape[::-1], strict=False)):
        raise ValueError(f"step must be broadcastable to x's shape {tuple(x.shape)}, got shape {tuple(step.shape)}")
    return step


def round_half_away(x: Tensor) -> Tensor:
    """Round to the nearest integer, halves away from zero (libjpeg's quantizer convention)."""
    if x.dtype in (torch.float16, torch.bfloat16):  # x + 1/2 rounds there (129.5 is no bfloat16): via float32
        return round_half_away(x.float()).to(x.dtype)  # the integers it gives are float16/bfloat16 values
    # trunc(x + sign(x) / 2): the same float additions as trunc(x + copysign(1/2, x)) (at 0 both give 0),
    # without a constant tensor to build. trunc as a division by 1: the same values, but vectorized
    # on CPUs, where torch.trunc runs 10x slower.
    return torch.add(x, torch.sign(x), alpha=0.5).div_(1.0, rounding_mode="trunc")


def _cubic_value(x: Tensor, straight: bool) -> Tensor:
    """``round(x) + (x - round(x))**3``, or ``round(x)`` itself when ``straight`` (halves away from zero)."""
    nearest = round_half_away(x)
    return nearest if straight else torch.sub(x, nearest).pow_(3).add_(nearest)


class _PolynomialRound(FusedFunction):
    """``round(x) + (x - round(x))**3`` (or ``round(x)`` itself when ``straight``), backward ``3 (x - round(x))**2``.

    Saves its input alone instead of autograd's chain of temporaries: this runs on every coefficient.
    """

    generate_vmap_rule = True  # torch.func.vmap derives the batched rule from forward and setup_context

    @staticmethod
    def forward(x: Tensor, straight: bool) -> Tensor:
        return _cubic_value(x, straight)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001, ANN205
        (x,) = ctx.saved_tensors
        residual = x - round_half_away(x)
        if records_gradient(x, grad):  # differentiated itself: no in-place steps
            return grad * (3.0 * residual.square()), None
        return grad * residual.square_().mul_(3.0), None


class _DitheredRound(FusedFunction):
    """The quantizer's rounding of ``x = coefficient / step``: :func:`polynomial_round`'s value (or
    ``round(x)`` itself when ``straight``) forward; backward, the derivative of ``E[round(x + n)]`` for
    Gaussian noise ``n`` of standard deviation ``DITHER_SCALE / step`` (in steps, at most 1/4).

    That derivative is a comb of Gaussians centred on the rounding boundaries (the half-integers),
    whose mean over a step is 1: a coarse step (low quality) passes gradient mostly to the coefficients
    that a small change can move across a boundary, as the real quantizer does, and a fine step passes
    it to all of them. Its tails never reach zero (within float range), so every coefficient keeps a
    direction. Saves its input and the (small) steps, and the noise's scale when the forward ran.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor, step: Tensor, straight: bool) -> Tensor:
        return _cubic_value(x, straight)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(inputs[0], inputs[1])
            ctx.dither_scale = _checked_dither_scale("kornia_diffjpeg.codec.surrogates.DITHER_SCALE", DITHER_SCALE)

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001, ANN205
        x, step = ctx.saved_tensors
        return grad * _dithered_slope(x, step, ctx.dither_scale), None, None  # all three checked in forward


#: Smallest noise scale (gray levels): below it the comb's peak (about ``step / scale``) overflows towards inf.
_MIN_DITHER_SCALE = 1e-3


def _checked_dither_scale(name: str, value: object) -> float:
    scale = check_number(name, value, 0.0)
    if scale < _MIN_DITHER_SCALE:
        raise ValueError(
            f"{name} must be >= {_MIN_DITHER_SCALE:g} (the noise's standard deviation in gray levels; a smaller one "
            f"gives infinite or NaN gradients), got {value!r}"
        )
    return scale


def dithered_round_slope(x: Tensor, step: Tensor | float, dither_scale: float | None = None) -> Tensor:
    """``d/dx E[round(x + n)]``, ``n ~ N(0, sigma**2)``, ``sigma = min(dither_scale / step, 1/4)`` steps.

    A comb of Gaussian densities on the rounding boundaries; the two nearest to ``x`` carry its mass
    (the others add under 6e-4). ``dither_scale`` defaults to :data:`DITHER_SCALE`.

    Example:
        >>> slope = dithered_round_slope(torch.tensor([0.0, 0.4, 0.49, 0.5]), 255.0)  # sigma = 0.0118
        >>> [round(v, 1) for v in slope.tolist()]  # a spike at the boundary, almost nothing elsewhere
        [0.0, 0.0, 23.6, 33.9]
        >>> [round(v, 2) for v in dithered_round_slope(torch.tensor([0.0, 0.25, 0.5]), 4.0).tolist()]
        [0.43, 0.99, 1.6]
    """
    _check_input(x)
    step = _step_tensor(x, step)
    dither_scale = DITHER_SCALE if dither_scale is None else _checked_dither_scale("dither_scale", dither_scale)
    return _dithered_slope(x, step, dither_scale)


def _dithered_slope(x: Tensor, step: Tensor, dither_scale: float) -> Tensor:
    """:func:`dithered_round_slope` of checked arguments (``step`` a tensor of ``x``'s dtype and device)."""
    # exp(-z**2) with z = distance / (sqrt(2) sigma), normalized by 1 / (sqrt(2 pi) sigma).
    if records_gradient(x, step):  # differentiated itself (a gradient of a gradient): no in-place steps
        return _dithered_slope_functional(x, step, dither_scale)
    scale = step.mul(1.0 / (math.sqrt(2.0) * dither_scale)).clamp_(min=1.0 / (math.sqrt(2.0) * _MAX_DITHER))
    # To the nearest boundary, in [0, 1/2]: the boundaries are symmetric about 0, so | |frac(x)| - 1/2 |
    # (torch.remainder is 10x slower on CPUs).
    distance = torch.frac(x).abs_().sub_(0.5).abs_()
    # Exponents are capped (most coefficients lie far from a boundary): an underflowing exp takes a slow
    # path on CPUs, 10-30x slower, and so do products of denormal floats, 100x, which a smaller floor
    # times a small gradient would give in the DCT's backward product.
    nearest = torch.mul(distance, scale).square_().clamp_(max=_MAX_EXPONENT).neg_().exp_()
    following = torch.rsub(distance, 1.0).mul_(scale).square_().clamp_(max=_MAX_EXPONENT).neg_().exp_()
    return nearest.add_(following).mul_(scale.mul(1.0 / math.sqrt(math.pi)))


def _dithered_slope_functional(x: Tensor, step: Tensor, dither_scale: float) -> Tensor:
    """:func:`dithered_round_slope` by out-of-place steps (the same values), so that autograd can differentiate it."""
    scale = torch.clamp(step * (1.0 / (math.sqrt(2.0) * dither_scale)), min=1.0 / (math.sqrt(2.0) * _MAX_DITHER))
    distance = (torch.frac(x).abs() - 0.5).abs()
    nearest = torch.exp(-torch.clamp((distance * scale).square(), max=_MAX_EXPONENT))
    following = torch.exp(-torch.clamp(((1.0 - distance) * scale).square(), max=_MAX_EXPONENT))
    return (nearest + following) * (scale * (1.0 / math.sqrt(math.pi)))


def dithered_round(x: Tensor, step: Tensor | float = 1.0) -> Tensor:
    """Rounding for a quantizer of step ``step``: :func:`polynomial_round`'s value, the expected rounding's gradient.

    The forward value is the cubic surrogate's; the backward is :func:`dithered_round_slope`, the
    derivative of rounding averaged over Gaussian noise of standard deviation ``DITHER_SCALE`` on the
    coefficients' 0..255 scale (``DITHER_SCALE / step`` in steps, at most 1/4). The codec passes each
    coefficient's table entry as ``step``; called alone, the step is 1.

    Example:
        >>> x = torch.tensor([0.25, 0.49], requires_grad=True)
        >>> dithered_round(x, torch.tensor(100.0)).sum().backward()  # sigma = 0.03 steps
        >>> [round(v, 1) for v in x.grad.tolist()]  # the x next to a boundary gets the gradient
        [0.0, 12.6]
    """
    _check_input(x)
    return _dithered_round(x, _step_tensor(x, step), False)


def _dithered_round(x: Tensor, step: Tensor, straight: bool) -> Tensor:
    """:func:`dithered_round` (or, ``straight``, its straight-through form) of checked arguments: the codec's
    modes call it with its coefficients and tables directly."""
    return _DitheredRound.apply(x, step, straight)


def dithered_round_straight_through(x: Tensor, step: Tensor) -> Tensor:
    """``round(x)`` (halves away from zero) forward, :func:`dithered_round`'s gradient backward."""
    return _dithered_round(x, step, True)


def polynomial_round_straight_through(x: Tensor) -> Tensor:
    """``round(x)`` (halves away from zero) forward, :func:`polynomial_round`'s derivative backward."""
    return _PolynomialRound.apply(x, True)


class _RoundedSample(FusedFunction):
    """A rounded value forward, the identity backward (the sample roundings' mean slope); saves nothing.

    ``kind``: ``"polynomial"`` (the cubic surrogate's value, halves to even), ``"half_up"``
    (``floor(x + 1/2)``) or ``"floor"``.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor, kind: str) -> Tensor:
        return _rounded_value(x, kind)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001
        pass

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001, ANN205
        return grad, None


def _rounded_value(x: Tensor, kind: str) -> Tensor:
    if kind == "polynomial":
        return snap_polynomial(x)
    if kind == "half_up":
        return torch.add(x, 0.5).floor_()
    if kind == "floor":
        return torch.floor(x)
    return x


def _rounded_value_and_scratch(x: Tensor, kind: str) -> tuple[Tensor, Tensor | None]:
    """:func:`_rounded_value`, and a temporary of its computation with the shape and dtype of ``x`` that is
    no longer needed (None when there is none)."""
    if kind != "polynomial" or is_traced(x):
        return _rounded_value(x, kind), None
    return _snap_polynomial_and_nearest(x)


def rounded_sample(x: Tensor, kind: str) -> Tensor:
    """``x`` rounded by ``kind`` (see :class:`_RoundedSample`) forward, gradient 1 backward."""
    return _RoundedSample.apply(x, kind)


def snap_polynomial(x: Tensor) -> Tensor:
    """The value of :func:`polynomial_round` (halves to even, no graph): a cheap forward for sample roundings."""
    return _snap_polynomial_and_nearest(x)[0]


def _snap_polynomial_and_nearest(x: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`snap_polynomial`'s value and ``round(x)``, a temporary of it that the caller may overwrite."""
    nearest = torch.round(x)
    return torch.sub(x, nearest).pow_(3).add_(nearest), nearest


def polynomial_round(x: Tensor) -> Tensor:
    """Cubic rounding surrogate ``round(x) + (x - round(x))**3`` (Shin and Song).

    Example:
        >>> polynomial_round(torch.tensor([0.25, 1.5, -2.0]))
        tensor([ 0.0156,  1.8750, -2.0000])
    """
    _check_input(x)
    return _PolynomialRound.apply(x, False)


def linear_round(x: Tensor) -> Tensor:
    """Rounding with a constant slope of 0.1 between the integers: ``round(x) + 0.1 (x - round(x))``."""
    _check_input(x)
    nearest = round_half_away(x).detach()
    return nearest + 0.1 * (x - nearest)


def sigmoid_round(x: Tensor, steepness: float = 60.0) -> Tensor:
    """Logistic step between consecutive integers: ``floor(x) + sigmoid(k (frac(x) - 1/2))``."""
    _check_input(x)
    base = torch.floor(x).detach()
    return base + torch.sigmoid(steepness * (x - base - 0.5))


def tanh_round(x: Tensor, steepness: float = 10.0) -> Tensor:
    """A tanh step between consecutive integers, normalized so it is continuous at the integers."""
    _check_input(x)
    base = torch.floor(x).detach()
    half = math.tanh(steepness / 2.0)
    return base + 0.5 + 0.5 * torch.tanh(steepness * (x - base - 0.5)) / half


def fourier_round(x: Tensor, terms: int = 10) -> Tensor:
    """Truncated Fourier series of the sawtooth: ``x - sum_k (-1)^(k+1) sin(2 pi k x) / (k pi)``."""
    _check_input(x)
    sawtooth = torch.zeros_like(x)
    for k in range(1, terms + 1):
        sawtooth = sawtooth + ((-1.0) ** (k + 1) / (k * math.pi)) * torch.sin(2.0 * math.pi * k * x)
    return x - sawtooth


ROUNDING_SURROGATES: dict[str, RoundingSurrogate] = {
    "dithered": dithered_round,
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


class _StraightThrough(FusedFunction):
    """``value`` forward, sharing its storage (no pass over the data), and the gradient to ``surrogate``."""

    generate_vmap_rule = True

    @staticmethod
    def forward(value: Tensor, surrogate: Tensor) -> Tensor:
        return value.detach()

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001
        pass

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001, ANN205
        return None, grad


def straight_through_fresh(value: Tensor, surrogate: Tensor) -> Tensor:
    """:func:`straight_through` without its two passes over the data, for a ``value`` just computed that
    nothing else holds: the result shares its storage."""
    if not surrogate.requires_grad:
        return value.detach()
    if value.shape != surrogate.shape or value.dtype != surrogate.dtype:
        return straight_through(value, surrogate)
    return _StraightThrough.apply(value, surrogate)


class _RoundedClip(FusedFunction):
    """Round (``kind`` as :class:`_RoundedSample`), clip to [low, high] and divide by ``divisor``, in one step.

    The clip is soft (slope ``slope`` outside the bounds) or hard; the gradient is ``1 / divisor``
    inside and ``slope / divisor`` outside, the rounding's being 1. Only a mask (boolean; bfloat16 when
    compiled for the CPU) is saved for backward; it is a second, non-differentiable output (so that
    ``torch.func.vmap`` can batch the function), computed only when a gradient is recorded.
    """

    generate_vmap_rule = True  # torch.func.vmap derives the batched rule from forward and setup_context

    @staticmethod
    def forward(  # noqa: PLR0913
        x: Tensor, kind: str, low: float, high: float, slope: float, soft: bool, divisor: float, mask: bool
    ) -> tuple[Tensor, Tensor | None]:
        rounded, scratch = _rounded_value_and_scratch(x, kind)
        # The clip writes into the rounding's spent temporary when there is one: a fresh full-size
        # buffer costs more than the pass itself on the CPU (the allocator pages it in again).
        hard = torch.clamp(rounded, low, high) if scratch is None else torch.clamp(rounded, low, high, out=scratch)
        if not mask:
            clipped = None
        elif torch.compiler.is_compiling() and x.device.type == "cpu":
            # Inductor's CPU kernels (torch 2.13) store a boolean tensor ~20x slower than a float one, which
            # made the compiled forward with gradients slower than eager: there the mask is 1 where clipped
            # and 0 inside, in bfloat16, computed without a boolean step (the partitioner would save that).
            clipped = torch.sub(hard, rounded).abs_().sign_().to(torch.bfloat16)
        else:
            clipped = torch.ne(hard, rounded)
        # hard + slope (rounded - hard): lerp below a weight of 1/2, one pass (the same bits as a subtraction
        # and a fused multiply-add)
        out = hard.lerp_(rounded, slope) if soft else hard
        return (out if divisor == 1.0 else out.div_(divisor)), clipped

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001
        _, clipped = output
        if clipped is not None:
            ctx.mark_non_differentiable(clipped)
            ctx.save_for_backward(clipped)
        ctx.set_materialize_grads(False)  # no zero-filled gradient for the mask
        ctx.slope, ctx.divisor = inputs[4], inputs[6]

    @staticmethod
    def backward(ctx, grad: Tensor | None, _: Tensor | None):  # noqa: ANN001, ANN205
        if grad is None:
            return None, None, None, None, None, None, None, None
        (clipped,) = ctx.saved_tensors
        if ctx.divisor != 1.0:
            grad = grad / ctx.divisor
        if clipped.dtype != torch.bool:  # compiled for the CPU: 1 where clipped, 0 inside (see forward)
            # Arithmetic, not a comparison (which the partitioner would move into the forward, saving its
            # boolean again): with weights 0 and 1 the factor is exactly 1 or slope (an infinite gradient
            # stays infinite, as with where).
            weight = clipped.to(grad.dtype)
            factor = (1.0 - weight) + weight * ctx.slope
            return grad * factor, None, None, None, None, None, None, None
        scaled = grad * ctx.slope
        # Selected in place (one full-size buffer instead of two) unless traced or differentiated itself.
        functional = is_traced(grad) or records_gradient(grad)
        selected = torch.where(clipped, scaled, grad) if functional else torch.where(clipped, scaled, grad, out=scaled)
        return selected, None, None, None, None, None, None, None


def _rounded_clip(  # noqa: PLR0913
    x: Tensor, kind: str, low: float, high: float, slope: float, soft: bool, divisor: float
) -> Tensor:
    needs_mask = torch.is_grad_enabled() and x.requires_grad
    return _RoundedClip.apply(x, kind, low, high, slope, soft, divisor, needs_mask)[0]


#: What :func:`rounded_clip` rounds by.
_ROUNDING_KINDS = ("polynomial", "half_up", "floor", "none")


def _check_clip(low: object, high: object, slope: object, divisor: object = 1.0, kind: object = "none") -> None:
    """The public clips' settings (the codec calls :func:`_rounded_clip` with its constants directly)."""
    if torch.compiler.is_compiling():  # Dynamo traces numbers as symbols: checked when the call runs eagerly
        return
    if kind not in _ROUNDING_KINDS:
        raise ValueError(f"kind must be one of {_ROUNDING_KINDS}, got {kind!r}")
    if check_number("low", low) > check_number("high", high):
        raise ValueError(f"low must be <= high, got {low!r} and {high!r}")
    check_number("slope", slope, 0.0, 1.0)
    if check_number("divisor", divisor) == 0.0:
        raise ValueError("divisor must be a finite non-zero number, got 0")


def rounded_clip(
    x: Tensor, kind: str, low: float, high: float, soft: bool, divisor: float = 1.0, slope: float = CLIP_SLOPE
) -> Tensor:
    """``clip(round(x), low, high) / divisor`` (``kind``: ``"polynomial"``, ``"half_up"``, ``"floor"`` or
    ``"none"``; soft or hard clip, ``slope`` in [0, 1] outside the bounds) with the soft clip's gradient over
    ``divisor``."""
    _check_input(x)
    _check_clip(low, high, slope, divisor, kind)
    return _rounded_clip(x, kind, low, high, slope, bool(soft), divisor)


def differentiable_clip(x: Tensor, low: float, high: float, slope: float = CLIP_SLOPE) -> Tensor:
    """Soft clip: identity inside ``[low, high]``, slope ``slope`` outside, so the gradient never vanishes.

    Example:
        >>> [round(v, 3) for v in differentiable_clip(torch.tensor([-10.0, 0.5, 265.0]), 0.0, 255.0).tolist()]
        [-0.01, 0.5, 255.01]
    """
    _check_input(x)
    _check_clip(low, high, slope)
    return _rounded_clip(x, "none", low, high, slope, True, 1.0)


def clip_straight_through(x: Tensor, low: float, high: float, slope: float = CLIP_SLOPE) -> Tensor:
    """Hard clip forward, the soft clip's gradient (1 inside, ``slope`` outside) backward."""
    _check_input(x)
    _check_clip(low, high, slope)
    return _rounded_clip(x, "none", low, high, slope, False, 1.0)
