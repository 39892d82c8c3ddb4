"""The codec computes in its own precision, whatever autocast region it is called from."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import torch

__all__ = ["without_autocast"]

_available = getattr(torch.amp, "is_autocast_available", lambda device: device in ("cpu", "cuda"))
#: Device types whose autocast the codec turns off, those this build of torch has (each one's state is read
#: per call: a few microseconds).
_AUTOCAST_DEVICES = tuple(device for device in ("cpu", "cuda", "xpu", "mps", "hpu") if _available(device))

Function = TypeVar("Function", bound=Callable[..., Any])


def without_autocast(function: Function) -> Function:
    """Run ``function`` with autocast turned off on the device types where it is on.

    Autocast runs matrix products in float16 or bfloat16: the exact mode's integers would change and
    the smooth modes' values move by tens of gray levels. The codec computes in float32 (float64 for
    float64 images), and its outputs enter the caller's autocast region like any float32 tensor.

    Example:
        >>> product, ones = without_autocast(torch.matmul), torch.ones(2, 2)
        >>> with torch.autocast("cpu", dtype=torch.bfloat16):
        ...     torch.matmul(ones, ones).dtype, product(ones, ones).dtype
        (torch.bfloat16, torch.float32)
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        for device in _AUTOCAST_DEVICES:
            if torch.is_autocast_enabled(device):
                # One plain context per enabled device type, by recursion: torch.compile traces it.
                with torch.autocast(device, enabled=False):
                    return wrapper(*args, **kwargs)
        return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
