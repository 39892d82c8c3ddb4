"""Constants of the codec (DCT matrices, tables, color matrices, filter biases), built once per dtype and device.

Building a tensor from Python numbers on every call costs a host-to-device copy on a GPU (a stream
sync, and a failure under CUDA-graph capture). :func:`cached` builds each constant on first use and
keeps it; while ``torch.compile`` traces, constants are built inline and become part of the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import torch
from torch import Tensor

__all__ = ["cached"]

_CONSTANTS: dict[tuple, Tensor] = {}


def cached(key: Hashable, dtype: torch.dtype, device: torch.device, build: Callable[[], Tensor]) -> Tensor:
    """The constant ``build()`` as ``dtype`` on ``device``, built once per (key, dtype, device).

    The returned tensor is shared: callers must not modify it in place.
    """
    if torch.compiler.is_compiling():
        return build().to(dtype=dtype, device=device)
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    full_key = (key, dtype, device)
    constant = _CONSTANTS.get(full_key)
    if constant is None:
        # A normal tensor even if first built under inference mode, so autograd may save it later.
        with torch.inference_mode(False), torch.no_grad():
            constant = build().to(dtype=dtype, device=device)
        _CONSTANTS[full_key] = constant
    return constant
