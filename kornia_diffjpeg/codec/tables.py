"""Quantization tables: the Annex K base tables and libjpeg's quality scaling (``jcparam.c``).

libjpeg's tables are step functions of the quality and of the base table. Their forward value is
libjpeg's integer table at integer qualities in every mode (between integer qualities the smooth
face interpolates linearly). Their gradient is that of the continuous formula
``clip(base * scale(q) / 100, 1, 255)`` with a soft clip, so it never vanishes, not at q = 1
(all entries clipped), q = 50, q = 100 nor at any integer table scale.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg._checks import QUALITY_RANGE, ValueChecks, check_real_tensor, validation_enabled
from kornia_diffjpeg.codec.constants import cached
from kornia_diffjpeg.codec.modes import Mode
from kornia_diffjpeg.codec.surrogates import differentiable_clip, straight_through
from kornia_diffjpeg.codec.tracing import is_traced

__all__ = [
    "standard_tables",
    "standard_tables_of_checked",
    "ANNEX_K_CHROMA",
    "ANNEX_K_LUMA",
    "annex_k_stacked",
    "annex_k_tables",
    "libjpeg_tables_by_quality",
    "standard_quality_tables",
    "given_table",
    "libjpeg_table",
    "quality_scaled_table",
    "quality_to_scale",
]

#: ITU-T T.81 Annex K luminance table, natural row-major order.
ANNEX_K_LUMA = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)

#: ITU-T T.81 Annex K chrominance table, natural row-major order.
ANNEX_K_CHROMA = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
) + ((99,) * 8,) * 4


def annex_k_tables(
    dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> tuple[Tensor, Tensor]:
    """The standard luma and chroma tables, each (8, 8).

    Example:
        >>> luma, chroma = annex_k_tables()
        >>> int(luma[0, 0]), int(chroma[7, 7])
        (16, 99)
    """
    return (
        torch.tensor(ANNEX_K_LUMA, dtype=dtype, device=device),
        torch.tensor(ANNEX_K_CHROMA, dtype=dtype, device=device),
    )


def annex_k_stacked(dtype: torch.dtype, device: torch.device) -> Tensor:
    """The luma and chroma base tables stacked, (2, 8, 8), cached per dtype and device (do not modify)."""
    return cached("annex_k", dtype, device, lambda: torch.tensor((ANNEX_K_LUMA, ANNEX_K_CHROMA), dtype=torch.float64))


def libjpeg_tables_by_quality(dtype: torch.dtype, device: torch.device) -> Tensor:
    """libjpeg's luma and chroma tables at every integer quality, (101, 2, 64) (row 0 repeats quality 1), cached."""

    def build() -> Tensor:
        base = torch.tensor((ANNEX_K_LUMA, ANNEX_K_CHROMA), dtype=torch.float64).view(1, 2, 64)
        quality = torch.arange(101, dtype=torch.float64).clamp_(min=1.0).view(101, 1, 1)
        return libjpeg_table(base, quality)

    return cached("libjpeg_tables", dtype, device, build)


def _interpolation_ends(dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    """libjpeg's tables (101, 2, 8, 8) at qualities ``q`` and ``min(q + 1, 100)``: the ends of the smooth
    face's interpolation, cached."""

    def build(step: int) -> Tensor:
        by_quality = libjpeg_tables_by_quality(torch.float64, torch.device("cpu")).view(101, 2, 8, 8)
        return by_quality if step == 0 else torch.cat((by_quality[1:], by_quality[100:]))

    lower = cached("libjpeg_tables_8x8", dtype, device, lambda: build(0))
    return lower, cached("libjpeg_tables_next_8x8", dtype, device, lambda: build(1))


def quality_to_scale(quality: Tensor) -> Tensor:
    """libjpeg's percentage scale without its integer division: ``5000 / q`` below 50, ``200 - 2 q`` above."""
    return torch.where(quality < 50.0, 5000.0 / quality, 200.0 - 2.0 * quality)


def libjpeg_table(base: Tensor, quality: Tensor) -> Tensor:
    """libjpeg's table: ``clip((base * s + 50) // 100, 1, 255)`` with ``s = 5000 // q`` or ``200 - 2q``.

    Args:
        base: tables (..., 8, 8).
        quality: qualities broadcastable against ``base`` (e.g. (B, 1, 1)).

    Example:
        >>> luma, _ = annex_k_tables()
        >>> libjpeg_table(luma, torch.tensor(50.0)).equal(luma), int(libjpeg_table(luma, torch.tensor(1.0)).min())
        (True, 255)
    """
    scale = torch.where(quality < 50.0, torch.floor(5000.0 / quality), 200.0 - 2.0 * quality)
    return torch.clamp(torch.floor((base * scale + 50.0) / 100.0), 1.0, 255.0)


def quality_scaled_table(base: Tensor, quality: Tensor, ops: Mode) -> Tensor:
    """Base tables (..., 8, 8) scaled by qualities (broadcastable, e.g. (B, 1, 1)) for the mode."""
    forward = _quality_scaled_value(base.detach(), quality.detach(), ops)
    if not (torch.is_grad_enabled() and (base.requires_grad or quality.requires_grad)):
        return forward
    smooth = differentiable_clip(base * quality_to_scale(quality) / 100.0, 1.0, 255.0)
    return straight_through(forward, smooth)


def _quality_scaled_value(base: Tensor, quality: Tensor, ops: Mode) -> Tensor:
    if ops.interpolates_tables:
        lower = torch.floor(quality)
        upper = torch.clamp(lower + 1.0, max=100.0)
        return torch.lerp(libjpeg_table(base, lower), libjpeg_table(base, upper), quality - lower)
    return libjpeg_table(base, quality)


def standard_quality_tables(quality: Tensor, ops: Mode) -> Tensor:
    """The Annex K luma and chroma tables scaled by per-sample qualities (B,) for the mode: (B, 2, 8, 8).

    Forward values come from a cached table of libjpeg's tables at the integer qualities (the smooth
    face interpolates between neighbours); the gradient is that of :func:`quality_scaled_table`.
    """
    dtype, device = quality.dtype, quality.device
    detached = quality.detach() if quality.requires_grad else quality
    if ops.interpolates_tables:  # qualities are >= 1: truncation is flooring, frac the weight
        index = detached.long()
        if not validation_enabled() or is_traced(detached):
            # Values no check read (validation off, torch.func, torch.compile) are kept in the table's range: a
            # NaN or too large quality gives NaN or quality 100's tables, not an index error (a device assert).
            index = index.clamp(0, 100)
        lower, upper = _interpolation_ends(dtype, device)
        forward = torch.lerp(lower[index], upper[index], detached.frac().view(-1, 1, 1, 1))
    else:
        forward = libjpeg_table(annex_k_stacked(dtype, device), detached.view(-1, 1, 1, 1))
    if not (torch.is_grad_enabled() and quality.requires_grad):
        return forward
    base = annex_k_stacked(dtype, device)
    smooth = differentiable_clip(base * quality_to_scale(quality.view(-1, 1, 1, 1)) / 100.0, 1.0, 255.0)
    return straight_through(forward, smooth)


def given_table(table: Tensor, ops: Mode) -> Tensor:
    """A table used as given: integer-valued (halves up) except in the smooth face, in [1, 255]."""
    smooth = differentiable_clip(table, 1.0, 255.0)
    if ops.interpolates_tables:
        return smooth
    return straight_through(torch.clamp(torch.floor(table.detach() + 0.5), 1.0, 255.0), smooth)


def standard_tables(quality: Tensor) -> tuple[Tensor, Tensor]:
    """libjpeg's Annex K tables at per-sample integer qualities (B,): (qt_y, qt_c), each (B, 8, 8).

    Qualities must lie in [0, 100] (0 gives quality 1's tables, as libjpeg codes it); they are read
    with one host sync (none with validation off).

    Raises:
        TypeError: ``quality`` is not a real-valued tensor.
        ValueError: a quality is not finite or lies outside [0, 100].

    Example:
        >>> qt_y, qt_c = standard_tables(torch.tensor([50.0]))
        >>> int(qt_y[0, 0, 0]), int(qt_c[0, 7, 7])
        (16, 99)
    """
    check_real_tensor("quality", quality)
    checks = ValueChecks()
    checks.within("quality", quality, *QUALITY_RANGE)
    checks.run()
    return standard_tables_of_checked(quality)


def standard_tables_of_checked(quality: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`standard_tables` of qualities checked already (no host sync)."""
    base = annex_k_stacked(torch.float32, quality.device)
    quality = quality.float().view(-1, 1, 1, 1)
    tables = libjpeg_table(base, quality)
    return tables[:, 0], tables[:, 1]
