"""The codec-control objective: file-size condition, downstream performance and two regularizers."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from kornia_diffjpeg.codec.tables import standard_tables

__all__ = ["ControlLoss", "bootstrap_loss", "codec_control_loss", "pseudo_label_cross_entropy"]


class ControlLoss(NamedTuple):
    """The weighted total and the four unweighted terms of :func:`codec_control_loss` (0-d tensors)."""

    total: Tensor
    condition: Tensor
    performance: Tensor
    size_regularizer: Tensor
    table_regularizer: Tensor


def pseudo_label_cross_entropy(output: Tensor, reference: Tensor) -> Tensor:
    """Cross-entropy of logits ``output`` (B, K) against the argmax of ``reference`` (B, K) logits.

    The default performance loss: classification, with the prediction on the uncompressed image
    thresholded to a one-hot pseudo label.

    Example:
        >>> float(pseudo_label_cross_entropy(torch.tensor([[9.0, 0.0]]), torch.tensor([[1.0, 0.0]]))) < 1e-3
        True
    """
    return F.cross_entropy(output, reference.argmax(1))


def _check_sizes(name: str, value: object, batch: int | None) -> Tensor:
    if not isinstance(value, Tensor) or not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of sizes in bytes, got {type(value).__name__}")
    if value.ndim != 1 or (batch is not None and value.shape[0] != batch):
        expected = "(B,)" if batch is None else f"({batch},)"
        raise ValueError(f"{name} must have shape {expected}, got {tuple(value.shape)}")
    return value


def _check_table(name: str, value: object, batch: int) -> Tensor:
    if not isinstance(value, Tensor) or not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {type(value).__name__}")
    if value.shape != (batch, 8, 8):
        raise ValueError(f"{name} must have shape ({batch}, 8, 8), got {tuple(value.shape)}")
    return value


def codec_control_loss(
    predicted_bytes: Tensor,
    target_bytes: Tensor,
    output: Tensor,
    pseudo_label: Tensor,
    qt_y: Tensor,
    qt_c: Tensor,
    *,
    performance_loss: Callable[[Tensor, Tensor], Tensor] = pseudo_label_cross_entropy,
    condition_weight: float = 30.0,
    performance_weight: float = 0.8,
    size_weight: float = 0.2,
    table_weight: float = 0.01,
    condition_margin: float = 0.01,
    size_margin: float = 0.05,
    table_std: float = 12.0,
) -> ControlLoss:
    r"""The four-term codec-control loss, with sizes compared in ``log10`` bytes.

    * condition: ``mean(relu(log10 s - log10(t (1 - condition_margin))))``, one-sided: only files
      larger than just under the target ``t`` are penalized;
    * performance: ``performance_loss(output, pseudo_label)``, e.g. the downstream model's logits on
      the coded image against its prediction on the uncompressed one;
    * size regularizer: ``mean(relu(log10(t (1 - size_margin)) - log10 s))``, pulls files that are
      much smaller than the target back up (``size_margin >= condition_margin`` leaves a dead zone
      just under the target);
    * table regularizer: ``|mean_b std(qt_y_b) - table_std| + |mean_b std(qt_c_b) - table_std|``.

    Args:
        predicted_bytes: differentiable file-size estimate (B,), e.g. ``diff_jpeg_file_size``.
        target_bytes: target file sizes (B,).
        output: downstream output on the coded images, passed to ``performance_loss``.
        pseudo_label: downstream output (or labels) on the uncompressed images.
        qt_y: luma tables (B, 8, 8).
        qt_c: chroma tables (B, 8, 8).
        performance_loss: ``(output, pseudo_label) -> 0-d loss``; segmentation or detection losses plug in here.
        condition_weight: weight of the condition term.
        performance_weight: weight of the performance term.
        size_weight: weight of the size regularizer.
        table_weight: weight of the table regularizer.
        condition_margin: relative distance under the target where the condition term starts.
        size_margin: relative distance under the target below which the size regularizer acts.
        table_std: target mean standard deviation of the tables' entries.

    Returns:
        A :class:`ControlLoss` (total and the unweighted terms).

    Example:
        >>> qt = torch.full((2, 8, 8), 10.0)
        >>> terms = codec_control_loss(torch.tensor([960.0, 1200.0]), torch.tensor([1000.0, 1000.0]),
        ...                            torch.randn(2, 5), torch.randn(2, 5), qt, qt)
        >>> bool(terms.condition > 0), float(terms.size_regularizer)
        (True, 0.0)
    """
    predicted_bytes = _check_sizes("predicted_bytes", predicted_bytes, None)
    batch = predicted_bytes.shape[0]
    target_bytes = _check_sizes("target_bytes", target_bytes, batch)
    qt_y, qt_c = _check_table("qt_y", qt_y, batch), _check_table("qt_c", qt_c, batch)
    if not callable(performance_loss):
        raise TypeError(f"performance_loss must be callable, got {type(performance_loss).__name__}")
    if not (0 <= condition_margin <= size_margin < 1):
        raise ValueError(
            f"margins must satisfy 0 <= condition_margin <= size_margin < 1, got {condition_margin} and {size_margin}"
        )
    log_size, log_target = predicted_bytes.log10(), target_bytes.to(predicted_bytes.dtype).log10()
    condition = F.relu(log_size - log_target - torch.log10(torch.tensor(1.0 - condition_margin))).mean()
    size_regularizer = F.relu(log_target + torch.log10(torch.tensor(1.0 - size_margin)) - log_size).mean()
    performance = performance_loss(output, pseudo_label)
    table_regularizer = sum((qt.flatten(1).std(1).mean() - table_std).abs() for qt in (qt_y, qt_c))
    total = (
        condition_weight * condition
        + performance_weight * performance
        + size_weight * size_regularizer
        + table_weight * table_regularizer
    )
    return ControlLoss(total, condition, performance, size_regularizer, table_regularizer)


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
