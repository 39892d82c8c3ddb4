"""Target file sizes for training a codec control: every batch covers the whole size range."""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg._checks import check_int, check_number

__all__ = ["binned_target_sizes"]

_FLOAT32_RANGE = (torch.finfo(torch.float32).tiny, torch.finfo(torch.float32).max)


def binned_target_sizes(
    batch: int,
    low: float,
    high: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | int | None = None,
) -> Tensor:
    """Target sizes in bytes (batch,), one drawn log-uniformly from each of ``batch`` equal bins of
    [log low, log high], in random order: every batch covers the whole range.

    Example:
        >>> sizes = binned_target_sizes(4, 1000.0, 16000.0, torch.Generator().manual_seed(0))
        >>> sizes.sort().values.log2().sub(torch.tensor(1000.0).log2()).floor().tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    batch = check_int("batch", batch, 0, 1 << 40)
    low, high = check_number("low", low, 0.0), check_number("high", high, 0.0)
    if not (0 < low < high):
        raise ValueError(f"low and high must satisfy 0 < low < high, got {low}, {high}")
    if low < _FLOAT32_RANGE[0] or high > _FLOAT32_RANGE[1]:  # 0 or inf in float32: NaN or inf sizes
        raise ValueError(
            f"low and high must lie in float32's range [{_FLOAT32_RANGE[0]:g}, {_FLOAT32_RANGE[1]:g}] "
            f"(the sizes are float32), got {low}, {high}"
        )
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if device is not None:  # Tensor.to takes a number as a dtype: device=5.5 would give float64 sizes
        if isinstance(device, bool) or not isinstance(device, (torch.device, str, int)):
            raise TypeError(f"device must be a torch.device, a str, an int or None, got {type(device).__name__}")
        try:
            device = torch.device(device)
        except RuntimeError as error:
            raise ValueError(f"device must name a device, got {device!r}: {error}") from error
    offsets = torch.rand(batch, generator=generator) + torch.arange(batch)
    offsets = offsets[torch.randperm(batch, generator=generator)] / batch
    low_t, high_t = torch.tensor(low).log(), torch.tensor(high).log()
    return (low_t + (high_t - low_t) * offsets).exp().to(device)
