"""A base for the codec's fused autograd functions: ``apply`` without a per-call signature binding."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["FusedFunction"]

_transforms_active = getattr(torch._C, "_are_functorch_transforms_active", None)


class FusedFunction(torch.autograd.Function):
    """An autograd function (``forward``, ``setup_context``, ``backward``) called with every argument given.

    ``torch.autograd.Function.apply`` binds the call to ``forward``'s signature with ``inspect`` on every
    call, to fill in defaults: about 20 of its 40 microseconds, and a third of the fixed cost of a small
    batch's forward, which runs ten of these functions. Called with all arguments, positionally, outside
    ``torch.func`` transforms and ``torch.compile``, the binding changes nothing, so ``apply`` goes straight
    to autograd's own; elsewhere it is torch's ``apply``.

    Example:
        >>> class Double(FusedFunction):
        ...     @staticmethod
        ...     def forward(x):
        ...         return 2 * x
        ...     @staticmethod
        ...     def setup_context(ctx, inputs, output):
        ...         pass
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         return 2 * grad
        >>> x = torch.ones(3, requires_grad=True)
        >>> Double.apply(x).sum().backward()
        >>> x.grad.tolist()
        [2.0, 2.0, 2.0]
    """

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs or _transforms_active is None or _transforms_active() or torch.compiler.is_compiling():
            return super().apply(*args, **kwargs)
        if any(isinstance(a, torch.Tensor) and torch._C._functorch.is_functorch_wrapped_tensor(a) for a in args):
            return super().apply(*args)  # a wrapper a finished transform left: torch unwraps it
        return super(torch.autograd.Function, cls).apply(*args)  # type: ignore[misc]  # autograd's C++ apply
