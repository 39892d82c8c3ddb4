"""Quality gradients that follow the codec's own output: a central difference over a small window.

JPEG's output is a step function of the quality (libjpeg's tables are integers), so any analytic
derivative w.r.t. the quality is the derivative of a stand-in: the smooth face's continuous table
formula, whose gradient tells how the output *would* change if the rounding did not follow the
table. Near the loss minimum of a quality-fitting problem that stand-in often points the wrong way.

The estimator here keeps the forward pass untouched and replaces only the Jacobian-vector product
w.r.t. the quality in the backward pass with the codec's own secant slope::

    d codec(x, q) / dq  ~  (codec(x, q_hi) - codec(x, q_lo)) / (q_hi - q_lo),
    q_lo = q - h,  q_hi = q + h   (shifted inside [1, 100] near the bounds)

evaluated with two extra no-grad forwards of the same mode (batched into one call), only when the
quality requires a gradient. Near the bounds the window keeps its width and moves inside [1, 100]
(one-sided at q = 1 and q = 100), so the gradient there is the slope of the codec's first or last
``2 h`` qualities: it does not vanish and points inward.

The window ``h = 3`` (:data:`QUALITY_WINDOW`) averages the codec's steps over 6 qualities: libjpeg's
tables move by one integer step per entry every few qualities, and the loss of a quality-fitting
problem has shallow dents of that width that a narrower secant (``h = 1``) follows into local
minima. Measured with ``benchmarks/gradients.py`` (direction protocol, recovery), ``h = 3`` scored
best of 1, 2 and 3; see ``docs/gradients.md``.

Given tables (no quality) get the same treatment along their common scale: the gradient w.r.t. the
scale ``s`` of ``(qt_y, qt_c)`` is the secant over ``s (1 -+ 0.06)`` (:data:`SCALE_WINDOW`), and the
directions that keep the scale keep the smooth face's gradient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor

from kornia_diffjpeg._autograd import FusedFunction
from kornia_diffjpeg._checks import check_image, check_quality, check_table
from kornia_diffjpeg.codec.surrogates import straight_through

__all__ = [
    "QUALITY_GRADIENTS",
    "QUALITY_WINDOW",
    "SCALE_WINDOW",
    "QualityGradient",
    "check_quality_gradient",
    "quality_window",
    "secant_codec",
    "secant_quality",
]

#: How the gradient w.r.t. the quality is computed: ``"finite_difference"`` (the codec's own secant
#: slope over :data:`QUALITY_WINDOW`) or ``"surrogate"`` (the smooth face's analytic derivative).
QualityGradient = Literal["finite_difference", "surrogate"]
QUALITY_GRADIENTS: tuple[str, ...] = ("finite_difference", "surrogate")

#: Half-width ``h`` of the central difference, in quality units.
QUALITY_WINDOW = 3.0

#: Half-width of the central difference w.r.t. a global scale of given tables, relative to the scale:
#: 6 %, what 3 qualities change libjpeg's scale by at q = 50.
SCALE_WINDOW = 0.06


def check_quality_gradient(quality_gradient: Any) -> QualityGradient:
    """Return ``quality_gradient``, or raise ``ValueError`` naming the argument if it is not a known estimator."""
    if not isinstance(quality_gradient, str) or quality_gradient not in QUALITY_GRADIENTS:
        raise ValueError(f"quality_gradient must be one of {list(QUALITY_GRADIENTS)}, got {quality_gradient!r}")
    return quality_gradient  # type: ignore[return-value]


class _QualitySecant(FusedFunction):
    """Identity on the coded images; the quality's gradient is ``<grad, slope>`` per sample."""

    generate_vmap_rule = True

    @staticmethod
    def forward(coded: Tensor, quality: Tensor, slope: Tensor) -> Tensor:
        return coded.view_as(coded)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001, ANN205
        (slope,) = ctx.saved_tensors
        grad_quality = (grad * slope).flatten(1).sum(1) if ctx.needs_input_grad[1] else None
        return grad, grad_quality, None


def quality_window(quality: Tensor, window: float, integer: bool) -> tuple[Tensor, Tensor]:
    """The window's ends ``(q_lo, q_hi)``: ``q -+ h``, shifted inside [1, 100] whole near the bounds.

    Shifting rather than cutting keeps the width ``2 h`` at the bounds: libjpeg's tables hardly change
    between q = 1 and q = 2 (most entries are clipped at 255 at both), so a window cut to [1, 2] would
    see no change at all. The ends are rounded (halves up) when the codec rounds qualities.
    """
    low = torch.clamp(quality - window, min=1.0, max=100.0 - 2.0 * window)
    high = low + 2.0 * window
    if integer:
        low, high = torch.floor(low + 0.5), torch.floor(high + 0.5)
    return low, high


def secant_quality(
    coded: Tensor,
    quality: Tensor,
    forward: Callable[[Tensor], Tensor],
    *,
    window: float = QUALITY_WINDOW,
    integer: bool = False,
) -> Tensor:
    """Give ``coded`` the codec's secant slope as its Jacobian-vector product w.r.t. ``quality``.

    Args:
        coded: (N, C, H, W) output of the codec at ``quality``, with the graph of its other inputs;
            it must not depend on ``quality`` through autograd (pass ``quality.detach()`` to the codec).
        quality: (N,) per-sample qualities in [1, 100] that require a gradient.
        forward: the codec at given (2N,) qualities on the same images stacked twice, (2N, C, H, W);
            called once, without gradient.
        window: half-width ``h`` of the difference, in quality units.
        integer: the codec rounds qualities to integers (the exact mode): the window's ends are rounded.

    Returns:
        ``coded`` unchanged, whose backward also gives ``quality`` the gradient
        ``sum(grad * (forward(q_hi) - forward(q_lo)) / (q_hi - q_lo))`` per sample.

    Example:
        >>> from kornia_diffjpeg import diff_jpeg
        >>> image, quality = torch.rand(2, 3, 16, 16), torch.tensor([1.0, 100.0], requires_grad=True)
        >>> coded = diff_jpeg(image, quality.detach())
        >>> coded = secant_quality(coded, quality, lambda q: diff_jpeg(image.repeat(2, 1, 1, 1), q))
        >>> coded.square().sum().backward()
        >>> bool((quality.grad != 0).all())
        True
    """
    detached = quality.detach().to(coded.dtype)
    low, high = quality_window(detached, window, integer)
    with torch.no_grad():
        ends = forward(torch.cat((low, high)))
        below, above = ends.chunk(2)
        slope = (above - below).div_((high - low).clamp_(min=1e-6).view(-1, *([1] * (coded.ndim - 1))))
    return _QualitySecant.apply(coded, quality, slope)


Codec = Callable[..., Tensor]


def _needs_grad(value: object) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


def secant_codec(codec: Codec, image: Tensor, quality: float | Tensor | None, *, mode: str, **settings: Any) -> Tensor:
    r"""``codec(image, quality, mode=mode, **settings)`` with secant gradients w.r.t. quality or table scale.

    ``codec`` is :func:`~kornia_diffjpeg.diff_jpeg` (passed in to keep this module below the pipeline).
    A quality that requires grad gets the secant slope over ``q -+`` :data:`QUALITY_WINDOW`; given
    tables (no quality) that require grad get it along their common scale ``s``, over ``s (1 -+``
    :data:`SCALE_WINDOW`\ ``)``, while the directions that keep the scale take the smooth face's gradient.
    Otherwise the codec's own gradients are used.
    """
    batched = check_image(image)
    batch, leading, device = batched.shape[0], tuple(image.shape[:-3]), batched.device
    quality_ = check_quality(quality, batch, device, leading)
    qt_y, qt_c = (check_table(n, settings.pop(n), batch, device, leading) for n in ("qt_y", "qt_c"))
    options = {**settings, "mode": mode, "quality_gradient": "surrogate"}
    twice_images = batched.detach().repeat(2, 1, 1, 1)

    def twice(table: Tensor | None) -> Tensor | None:
        return None if table is None else table.detach().repeat(2, 1, 1)

    if quality_ is not None and quality_.requires_grad:
        coded = codec(batched, quality_.detach(), qt_y=qt_y, qt_c=qt_c, **options)
        tables = {"qt_y": twice(qt_y), "qt_c": twice(qt_c)}
        coded = secant_quality(
            coded, quality_, lambda q: codec(twice_images, q, **tables, **options), integer=mode == "exact"
        )
        return coded.reshape(image.shape)
    if quality_ is not None or not (_needs_grad(qt_y) or _needs_grad(qt_c)):
        return codec(image, quality_, qt_y=qt_y, qt_c=qt_c, **options).reshape(image.shape)
    present = [t for t in (qt_y, qt_c) if t is not None]
    # The common scale s of the tables and their direction u = tables / s: u's gradient is the smooth
    # face's with the radial part removed by the normalization, s's is the codec's own secant.
    scale = torch.stack([t.square().sum((-2, -1)) for t in present]).sum(0).sqrt()
    radius = scale.view(-1, 1, 1)
    kept = [None if t is None else straight_through(t.detach(), t / radius * radius.detach()) for t in (qt_y, qt_c)]
    coded = codec(batched, None, qt_y=kept[0], qt_c=kept[1], **options)
    factors = torch.cat((torch.full_like(scale, 1.0 - SCALE_WINDOW), torch.full_like(scale, 1.0 + SCALE_WINDOW)))

    def scaled(table: Tensor | None) -> Tensor | None:
        t = twice(table)
        return None if t is None else (t * factors.view(-1, 1, 1)).clamp(1.0, 255.0)

    with torch.no_grad():
        below, above = codec(twice_images, None, qt_y=scaled(qt_y), qt_c=scaled(qt_c), **options).chunk(2)
        slope = (above - below).div_((2.0 * SCALE_WINDOW * scale.detach()).view(-1, 1, 1, 1))
    return _QualitySecant.apply(coded, scale, slope).reshape(image.shape)
