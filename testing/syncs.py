"""Count the host syncs of a call: reads of tensor data by the host (``item``, ``tolist``, ``bool``, ...).

On a GPU each of these waits for the device; on a CPU they cost nothing, but counting them here tells
how many a GPU would pay. Counted: the ops that read a value to the host (``aten._local_scalar_dense``,
behind ``item()``, ``float()``, ``int()``, ``bool()``), ops whose output size depends on the data
(``nonzero``, ``masked_select``, ``unique``, ``equal``), and the ``Tensor.tolist`` and
``Tensor.numpy`` methods, which read without dispatching an op on the CPU.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ["DispatchCounter", "HostSyncCounter", "count_host_syncs"]

_SYNC_OPS = {
    "aten::_local_scalar_dense",
    "aten::nonzero",
    "aten::masked_select",
    "aten::equal",
    "aten::is_nonzero",
    "aten::_unique2",
    "aten::unique_consecutive",
    "aten::unique_dim",
}


class DispatchCounter(TorchDispatchMode):
    """A dispatch mode that counts the aten ops dispatched while it is active (``count``).

    Example:
        >>> with DispatchCounter() as counter:
        ...     _ = torch.ones(2) + 1
        >>> counter.count
        2
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.count += 1
        return func(*args, **(kwargs or {}))


class HostSyncCounter(TorchDispatchMode):
    """A dispatch mode that counts host syncs by kind while it is active (see the module docstring).

    Example:
        >>> with HostSyncCounter() as counter:
        ...     _ = float(torch.ones(2).sum()), torch.ones(3).tolist()
        >>> counter.total, sorted(counter.kinds)
        (2, ['Tensor.tolist', 'aten::_local_scalar_dense'])
    """

    def __init__(self) -> None:
        super().__init__()
        self.kinds: Counter[str] = Counter()
        self._patched: dict[str, Any] = {}

    @property
    def total(self) -> int:
        return sum(self.kinds.values())

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = func._schema.name
        if name in _SYNC_OPS:
            self.kinds[name] += 1
        return func(*args, **(kwargs or {}))

    def __enter__(self) -> HostSyncCounter:
        for method in ("tolist", "numpy"):
            original = getattr(torch.Tensor, method)
            self._patched[method] = original
            setattr(torch.Tensor, method, self._counting(method, original))
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        for method, original in self._patched.items():
            setattr(torch.Tensor, method, original)
        self._patched = {}

    def _counting(self, method: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            self.kinds[f"Tensor.{method}"] += 1
            return original(tensor, *args, **kwargs)

        return counted


def count_host_syncs(function: Callable[[], Any]) -> int:
    """The number of host syncs of ``function()``.

    Example:
        >>> count_host_syncs(lambda: torch.ones(3).sum() * 2)
        0
    """
    with HostSyncCounter() as counter:
        function()
    return counter.total
