"""Tables as a baseline JPEG file stores them."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["integer_tables"]


def integer_tables(table: Tensor) -> Tensor:
    """Tables as the file stores them: rounded half up (as the codec rounds given tables), in [1, 255], int64.

    Example:
        >>> integer_tables(torch.tensor([0.2, 1.5, 254.5, 300.0])).tolist()
        [1, 2, 255, 255]
    """
    return torch.floor(table.detach() + 0.5).clamp(1.0, 255.0).long()
