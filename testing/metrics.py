"""Shared measures of the tests, benchmarks and examples."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

__all__ = ["PSNR_CAP_DB", "psnr"]

#: PSNR given to identical images, so that averages stay finite.
PSNR_CAP_DB = 100.0


def psnr(output: Tensor | np.ndarray, reference: Tensor | np.ndarray, peak: float = 1.0) -> Tensor:
    """PSNR in dB, per sample for (B, C, H, W) inputs and over the whole input otherwise.

    Args:
        output: images, a tensor or a NumPy array (for uint8 arrays pass ``peak=255``).
        reference: images of the same shape.
        peak: the largest possible value (1 for images in [0, 1], 255 for 8-bit ones).

    Returns:
        The PSNR (B,) or a 0-d tensor, float64, capped at :data:`PSNR_CAP_DB` for identical images.

    Example:
        >>> float(psnr(torch.zeros(4, 4), torch.full((4, 4), 0.1)))
        20.0
    """
    a, b = (torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x).double() for x in (output, reference))
    error = (a - b).square()
    error = error.flatten(1).mean(1) if error.ndim == 4 else error.mean()
    floor = peak**2 * 10.0 ** (-PSNR_CAP_DB / 10.0)
    return 10.0 * torch.log10(peak**2 / error.clamp_min(floor))
