"""Quantization tables: the Annex K base tables and libjpeg's quality scaling (``jcparam.c``)."""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg.codec.discretization import Discretization

__all__ = [
    "ANNEX_K_CHROMA",
    "ANNEX_K_LUMA",
    "annex_k_tables",
    "quality_to_scale",
    "round_table",
    "scale_table",
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


def quality_to_scale(quality: Tensor, ops: Discretization) -> Tensor:
    """libjpeg's percentage scale: ``5000 // q`` below 50, ``200 - 2 q`` from 50 up."""
    low = ops.table_floor(5000.0 / quality)
    high = 200.0 - 2.0 * quality
    return torch.where(quality < 50.0, low, high)


def scale_table(base: Tensor, scale: Tensor, ops: Discretization) -> Tensor:
    """Scale a base table as libjpeg does: ``(base * s + 50) // 100`` clipped to [1, 255].

    Args:
        base: tables (..., 8, 8).
        scale: percentage scales broadcastable against ``base`` (e.g. (B, 1, 1)).
        ops: the mode's discretization.
    """
    return ops.clip(ops.table_floor((base * scale + 50.0) / 100.0), 1.0, 255.0)


def round_table(table: Tensor, ops: Discretization) -> Tensor:
    """Make a table given without quality integer-valued (halves up) and baseline-valid."""
    return ops.clip(ops.table_floor(table + 0.5), 1.0, 255.0)
