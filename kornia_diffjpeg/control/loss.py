"""The codec-control objective: file-size condition, downstream performance and two regularizers."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from kornia_diffjpeg._checks import QUALITY_RANGE, TABLE_RANGE, ValueChecks, check_number
from kornia_diffjpeg.codec.tables import standard_tables_of_checked

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
    for name, value in (("output", output), ("reference", reference)):
        if not isinstance(value, Tensor) or not value.is_floating_point():
            got = value.dtype if isinstance(value, Tensor) else type(value).__name__
            raise TypeError(f"{name} must be a floating-point tensor of logits (B, K), got {got}")
    if output.ndim < 2 or output.shape != reference.shape:
        raise ValueError(
            f"output and reference must be logits of the same shape (B, K) (or (B, K, ...) per pixel), "
            f"got {tuple(output.shape)} and {tuple(reference.shape)}"
        )
    if output.numel() == 0:  # a mean over no sample (NaN), or an argmax over no class
        raise ValueError(f"output must hold at least one sample and one class, got shape {tuple(output.shape)}")
    return F.cross_entropy(output, reference.argmax(1))


def _check_sizes(name: str, value: object, batch: int | None, checks: ValueChecks) -> Tensor:
    if not isinstance(value, Tensor) or not value.is_floating_point():
        got = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise TypeError(f"{name} must be a floating-point tensor of sizes in bytes, got {got}")
    if value.ndim != 1 or (batch is not None and value.shape[0] != batch):
        expected = "(B,)" if batch is None else f"({batch},)"
        raise ValueError(f"{name} must have shape {expected}, got {tuple(value.shape)}")
    if value.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one size (a mean over no image is undefined), got shape (0,)")
    checks.positive(name, value)  # log10 of a size <= 0 is -inf or NaN
    return value


def _check_table(
    name: str, value: object, batch: int, checks: ValueChecks, device: torch.device | None = None
) -> Tensor:
    if not isinstance(value, Tensor) or not value.is_floating_point():
        got = value.dtype if isinstance(value, Tensor) else type(value).__name__
        raise TypeError(f"{name} must be a floating-point tensor, got {got}")
    if value.shape != (batch, 8, 8):
        raise ValueError(f"{name} must have shape ({batch}, 8, 8), got {tuple(value.shape)}")
    if batch == 0:
        raise ValueError(
            f"{name} must hold at least one table (a mean over no image is undefined), got shape (0, 8, 8)"
        )
    if device is not None and value.device != device:
        raise ValueError(f"{name} is on {value.device} but the sizes are on {device}")
    checks.within(name, value, *TABLE_RANGE, what=" values")
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
        table_std: target mean standard deviation of the tables' entries, in [0, 255].

    Returns:
        A :class:`ControlLoss` (total and the unweighted terms).

    Example:
        >>> qt = torch.full((2, 8, 8), 10.0)
        >>> terms = codec_control_loss(torch.tensor([960.0, 1200.0]), torch.tensor([1000.0, 1000.0]),
        ...                            torch.randn(2, 5), torch.randn(2, 5), qt, qt)
        >>> bool(terms.condition > 0), float(terms.size_regularizer)
        (True, 0.0)
    """
    checks = ValueChecks()  # every argument's values, read once
    predicted_bytes = _check_sizes("predicted_bytes", predicted_bytes, None, checks)
    batch, device = predicted_bytes.shape[0], predicted_bytes.device
    target_bytes = _check_sizes("target_bytes", target_bytes, batch, checks)
    if target_bytes.device != device:
        raise ValueError(f"target_bytes is on {target_bytes.device} but predicted_bytes is on {device}")
    if target_bytes.dtype != predicted_bytes.dtype:  # compared in predicted's dtype: 1e300 in float64 is inf in float32
        checks.positive(
            f"target_bytes (in predicted_bytes' dtype, {predicted_bytes.dtype})", target_bytes.to(predicted_bytes.dtype)
        )
    qt_y, qt_c = _check_table("qt_y", qt_y, batch, checks, device), _check_table("qt_c", qt_c, batch, checks, device)
    if not callable(performance_loss):
        raise TypeError(f"performance_loss must be callable, got {type(performance_loss).__name__}")
    for name, weight in (
        ("condition_weight", condition_weight),
        ("performance_weight", performance_weight),
        ("size_weight", size_weight),
        ("table_weight", table_weight),
    ):
        # Below the largest number of the loss's dtype (float32 for half sizes): an overflowing weight times 0 is NaN.
        check_number(name, weight, 0.0, torch.finfo(torch.promote_types(predicted_bytes.dtype, torch.float32)).max)
    check_number("table_std", table_std, 0.0, TABLE_RANGE[1])  # entries in [1, 255] spread less; no half overflow
    condition_margin = check_number("condition_margin", condition_margin, 0.0, 1.0)
    size_margin = check_number("size_margin", size_margin, 0.0, 1.0)
    if not (0 <= condition_margin <= size_margin < 1):
        raise ValueError(
            f"margins must satisfy 0 <= condition_margin <= size_margin < 1, got {condition_margin} and {size_margin}"
        )
    checks.run()
    log_size, log_target = predicted_bytes.log10(), target_bytes.to(predicted_bytes.dtype).log10()
    condition = F.relu(log_size - log_target - torch.log10(torch.tensor(1.0 - condition_margin))).mean()
    size_regularizer = F.relu(log_target + torch.log10(torch.tensor(1.0 - size_margin)) - log_size).mean()
    performance = performance_loss(output, pseudo_label)
    if not isinstance(performance, Tensor) or not performance.is_floating_point() or performance.ndim != 0:
        got = type(performance).__name__
        if isinstance(performance, Tensor):
            got = f"shape {tuple(performance.shape)}, dtype {performance.dtype}"
        raise TypeError(f"performance_loss must return a 0-d floating-point tensor (the loss), got {got}")
    table_regularizer = torch.stack([(qt.flatten(1).std(1).mean() - table_std).abs() for qt in (qt_y, qt_c)]).sum()
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
        >>> from kornia_diffjpeg.control import standard_tables
        >>> qt_y, qt_c = standard_tables(torch.tensor([30.0, 70.0]))
        >>> float(bootstrap_loss(qt_y, qt_c, torch.tensor([30.0, 70.0])))
        0.0
    """
    if not isinstance(quality, Tensor) or quality.dtype == torch.bool or quality.is_complex() or quality.ndim != 1:
        got = f"shape {tuple(quality.shape)}, dtype {quality.dtype}" if isinstance(quality, Tensor) else type(quality)
        raise TypeError(f"quality must be a real (B,) tensor of qualities in [0, 100], got {got}")
    if quality.shape[0] == 0:
        raise ValueError("quality must hold at least one quality (a mean over no image is undefined), got shape (0,)")
    checks = ValueChecks()
    checks.within("quality", quality, *QUALITY_RANGE)
    qt_y = _check_table("qt_y", qt_y, quality.shape[0], checks, quality.device)
    qt_c = _check_table("qt_c", qt_c, quality.shape[0], checks, quality.device)
    checks.run()
    target_y, target_c = standard_tables_of_checked(quality.clamp_min(1.0))  # libjpeg codes quality 0 as 1
    return (F.l1_loss(qt_y, target_y) + F.l1_loss(qt_c, target_c)) / 255.0
