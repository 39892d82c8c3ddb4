"""Shared helpers of the benchmark scripts: timing, peak memory, command line, tables.

Not a benchmark itself; ``fidelity.py`` and ``speed.py`` import it (run them from any directory, e.g.
``python benchmarks/fidelity.py``).

Peak memory is measured as follows.

* On CUDA: ``torch.cuda.max_memory_allocated()`` after ``reset_peak_memory_stats()``, minus the memory
  allocated before the call.
* On CPU: ``tracemalloc`` does not see torch's allocator and the process RSS is blurred by glibc's
  caching and its dynamic mmap threshold, so the call runs under ``torch.profiler`` with
  ``profile_memory=True``. The profiler records every allocation and free of torch's CPU allocator as a
  ``[memory]`` event with a signed byte count. Sorted by time, the running sum of these is the memory
  the call holds at each moment beyond what was allocated before it; its maximum is the peak. Memory
  allocated outside torch (numpy, OpenCV) is not counted.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"
THREADS = 2


# --- command line -------------------------------------------------------------------------------


def make_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the options every benchmark has: ``--device`` and ``--quick``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--device",
        default="cpu",
        choices=["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"],
        help="device to run the differentiable codecs on (default: cpu)",
    )
    parser.add_argument("--quick", action="store_true", help="a small subset, for a smoke test")
    return parser


def setup(device: str) -> torch.device:
    """Fix the thread count (the numbers are reported for 2 CPU threads) and return the device."""
    torch.set_num_threads(THREADS)
    return torch.device(device)


# --- timing and memory --------------------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 2) -> float:
    """Median wall time of ``fn()`` in milliseconds over ``repeats`` runs, after ``warmup`` runs."""
    return interleaved_median_ms({"fn": fn}, device, repeats, warmup)["fn"]


def interleaved_median_ms(
    fns: dict[str, Callable[[], object]], device: torch.device, repeats: int, warmup: int = 2
) -> dict[str, float]:
    """Median wall time (ms) of each callable, the callables taking turns run after run.

    Taking turns spreads the load of other processes on a shared machine over all the callables,
    which keeps their ratios fair even when the absolute times are disturbed.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: 1000.0 * statistics.median(values) for name, values in times.items()}


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the C++ profiler's start/stop log lines, written straight to file descriptor 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def peak_memory_bytes(fn: Callable[[], object], device: torch.device) -> int:
    """Peak memory that ``fn()`` allocates on ``device`` beyond what is allocated before it (see module doc)."""
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True)
    with _quiet_stderr():
        profiler.start()
    try:
        fn()
    finally:
        with _quiet_stderr():
            profiler.stop()
    events = sorted(
        (event.start_ns(), event.nbytes())
        for event in profiler.profiler.kineto_results.events()
        if event.name() == "[memory]"
    )
    return max(itertools.accumulate((nbytes for _, nbytes in events), initial=0))


# --- output -------------------------------------------------------------------------------------


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]], floatfmt: str = ".2f", left: int = 1) -> str:
    """A plain-text table: the first ``left`` columns left-aligned, the others right-aligned; floats as ``floatfmt``."""

    def cell(value: object) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return "n/a"
        return format(value, floatfmt) if isinstance(value, float) else str(value)

    cells = [list(map(str, header))] + [[cell(value) for value in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        padded = (v.ljust(w) if i < left else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True)))
        return "  ".join(padded).rstrip()

    rule = "-" * len(line(cells[0]))
    return "\n".join([line(cells[0]), rule, *map(line, cells[1:])])
