"""Tables as a baseline JPEG file stores them."""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg._checks import ValueChecks, check_real_tensor

__all__ = ["integer_tables", "integer_tables_of_checked"]


def integer_tables(table: Tensor) -> Tensor:
    """Tables as the file stores them: rounded half up (as the codec rounds given tables), in [1, 255], int64.

    Values outside [1, 255] are clipped to it; non-finite values are refused (read with one host sync,
    none with validation off).

    Raises:
        TypeError: ``table`` is not a real-valued tensor.
        ValueError: a value is not finite.

    Example:
        >>> integer_tables(torch.tensor([0.2, 1.5, 254.5, 300.0])).tolist()
        [1, 2, 255, 255]
    """
    check_real_tensor("table", table)
    checks = ValueChecks()
    checks.finite("table", table)
    checks.run()
    return integer_tables_of_checked(table)


def integer_tables_of_checked(table: Tensor) -> Tensor:
    """:func:`integer_tables` of finite tables (no host sync)."""
    return torch.floor(table.detach() + 0.5).clamp(1.0, 255.0).long()
