"""Training helpers: per-batch binned target sizes and the bootstrap on standard tables."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from kornia_diffjpeg.codec.tables import annex_k_tables, libjpeg_table

__all__ = ["binned_target_sizes", "bootstrap_loss", "standard_tables"]


def binned_target_sizes(
    batch: int, low: float, high: float, generator: torch.Generator | None = None, device: torch.device | None = None
) -> Tensor:
    """Target sizes in bytes (batch,), one drawn log-uniformly from each of ``batch`` equal bins of
    [log low, log high], in random order: every batch covers the whole range.

    Example:
        >>> sizes = binned_target_sizes(4, 1000.0, 16000.0, torch.Generator().manual_seed(0))
        >>> sizes.sort().values.log2().sub(torch.tensor(1000.0).log2()).floor().tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    if batch < 1 or not (0 < low < high):
        raise ValueError(f"batch must be >= 1 and 0 < low < high, got {batch}, {low}, {high}")
    offsets = torch.rand(batch, generator=generator) + torch.arange(batch)
    offsets = offsets[torch.randperm(batch, generator=generator)] / batch
    low_t, high_t = torch.tensor(low).log(), torch.tensor(high).log()
    return (low_t + (high_t - low_t) * offsets).exp().to(device)


def standard_tables(quality: Tensor) -> tuple[Tensor, Tensor]:
    """libjpeg's Annex K tables at per-sample integer qualities (B,): (qt_y, qt_c), each (B, 8, 8).

    Example:
        >>> qt_y, qt_c = standard_tables(torch.tensor([50.0]))
        >>> int(qt_y[0, 0, 0]), int(qt_c[0, 7, 7])
        (16, 99)
    """
    luma, chroma = annex_k_tables(torch.float32, quality.device)
    quality = quality.float().view(-1, 1, 1)
    return libjpeg_table(luma, quality), libjpeg_table(chroma, quality)


def bootstrap_loss(qt_y: Tensor, qt_c: Tensor, quality: Tensor) -> Tensor:
    """Mean absolute error (on the 0..1 scale of 255) of predicted tables to the standard tables at ``quality``.

    Feed the control the real file size of each image at ``quality`` as its target: the bootstrap
    teaches it standard JPEG's size-to-table mapping before the control loss takes over.

    Example:
        >>> qt_y, qt_c = standard_tables(torch.tensor([30.0, 70.0]))
        >>> float(bootstrap_loss(qt_y, qt_c, torch.tensor([30.0, 70.0])))
        0.0
    """
    target_y, target_c = standard_tables(quality)
    return (F.l1_loss(qt_y, target_y) + F.l1_loss(qt_c, target_c)) / 255.0
