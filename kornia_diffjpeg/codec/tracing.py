"""How a call runs: traced (``torch.compile``) or transformed (``torch.func``), where eager shortcuts
such as writes into preallocated outputs (``out=``) must give way to plain functional ops, and whether
autograd records it."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["is_traced", "records_gradient"]


def is_traced(*tensors: Tensor | None) -> bool:
    """True under ``torch.compile`` (which fuses the ops itself) and when any of ``tensors`` (None skipped)
    belongs to a ``torch.func`` transform (``vmap``, ``grad``): its batched values cannot be written into a
    plain tensor, such as a buffer of the unbatched images when only the tables are vmapped."""
    if torch.compiler.is_compiling():
        return True
    return any(t is not None and torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors)


def records_gradient(*values: Any) -> bool:
    """Whether autograd records ops on any tensor among ``values`` here (grad mode on, one requires grad):
    a graph is built, so in-place shortcuts give way (in a backward pass: ``create_graph=True``). Tuples
    (a color's matrix and offset) are looked into; other values (numbers, None) record nothing."""
    if not torch.is_grad_enabled():
        return False
    tensors = (t for value in values for t in (value if isinstance(value, tuple) else (value,)))
    return any(isinstance(t, Tensor) and t.requires_grad for t in tensors)
