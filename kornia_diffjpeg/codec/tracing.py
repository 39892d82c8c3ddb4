"""Whether a call is traced (``torch.compile``) or transformed (``torch.func``), where eager shortcuts
such as writes into preallocated outputs (``out=``) must give way to plain functional ops."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["is_traced"]


def is_traced(tensor: Tensor) -> bool:
    """True under ``torch.compile`` (which fuses the ops itself) and for tensors of ``torch.func``
    transforms (``vmap``, ``grad``), whose batched values cannot be written into a plain tensor."""
    return torch.compiler.is_compiling() or torch._C._functorch.is_functorch_wrapped_tensor(tensor)
