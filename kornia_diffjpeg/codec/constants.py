"""Constants of the codec (DCT matrices, tables, color matrices, filter biases), built once per dtype and device.

Building a tensor from Python numbers on every call costs a host-to-device copy on a GPU (a stream
sync, and a failure under CUDA-graph capture). :func:`cached` builds each constant on first use and
keeps it; while ``torch.compile`` traces, constants are built inline and become part of the graph.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import torch
from torch import Tensor

__all__ = ["cached", "derived"]

_CONSTANTS: dict[tuple, Tensor] = {}
#: Views and reshapes of the constants (e.g. broadcast to a batch), by the constant's id and a key: the
#: constants are kept alive here, so their ids are never reused.
_DERIVED: dict[tuple, Tensor] = {}
_CONSTANT_IDS: set[int] = set()


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
        _CONSTANT_IDS.add(id(constant))
    return constant


def derived(tensor: Tensor, key: Hashable, build: Callable[[Tensor], Tensor]) -> Tensor:
    """``build(tensor)``, kept for reuse when ``tensor`` is a constant of :func:`cached` (no op dispatched
    for a view or a broadcast the next time); built every call for any other tensor."""
    if torch.compiler.is_compiling() or id(tensor) not in _CONSTANT_IDS:
        return build(tensor)
    full_key = (id(tensor), key)
    value = _DERIVED.get(full_key)
    if value is None:
        with torch.inference_mode(False), torch.no_grad():
            value = build(tensor)
        _DERIVED[full_key] = value
    return value
