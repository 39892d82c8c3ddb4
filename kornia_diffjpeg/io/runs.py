"""Multi-symbol look-up tables for the AC part of the Huffman decoding loop.

The decoding loop (:mod:`kornia_diffjpeg.io.decode`) costs a fixed amount of Python per look-up.
A block's AC codes are short (a few bits with their extra bits), so the 16 bits of one look-ahead
usually hold two or three whole symbols: a :class:`RunTable` gives, for each look-ahead, every
symbol that lies whole inside it at once (up to an end of block), and the loop records only where
they start. Their coefficients are written afterwards with NumPy (:func:`expand_runs`).

A table takes tens of milliseconds to build, more than a small file takes to decode: it is built
for a Huffman table seen before (the standard tables, a camera's tables) or for a scan of many
blocks, and the plain one-symbol table serves the rest.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

__all__ = ["RUN_TABLE_BLOCKS", "RunTable", "expand_runs", "run_table"]

#: Scans of at least this many blocks build the run tables of Huffman tables seen for the first time.
RUN_TABLE_BLOCKS = 16384
#: Run tables kept (about 1 MB each), and Huffman tables remembered as seen once, least recently used dropped first.
_KEPT, _SEEN_KEPT = 8, 256
#: Look-ahead bits, as the one-symbol tables.
_BITS = 16


@dataclass(frozen=True, eq=False)  # compared by identity: one object per Huffman table
class RunTable:
    """The whole symbols at the start of every 16-bit look-ahead, for one AC Huffman table.

    Attributes:
        entries: per look-ahead ``(bits, span, reach, count)``: the bits of its whole symbols (0 when
            the first one is not whole, or not a code), the coefficients they advance (zero runs plus
            one per coded value), ``span`` plus 1 when they end with an end of block, and how many
            non-zero coefficients they hold.
        codes: int32 ``(offset << 16) + value + 32768`` of those coefficients (offset from the first one's
            position in the block), look-ahead after look-ahead.
        first: (65536,) int64 where each look-ahead's codes start in ``codes``.
        count: (65536,) int64 how many codes it has.
    """

    entries: list[tuple[int, int, int, int]]
    codes: np.ndarray
    first: np.ndarray
    count: np.ndarray


Key = tuple[tuple[int, ...], bytes]  # a Huffman table as its DHT segment gives it
_TABLES: OrderedDict[Key, RunTable] = OrderedDict()
_SEEN: OrderedDict[Key, None] = OrderedDict()  # seen once, not built
_LOCK = threading.Lock()  # files may be read from several threads (data loaders)


def run_table(key: Key, single: list[tuple[int, int, int]], blocks: int) -> RunTable | None:
    """The run table of an AC Huffman table (``key``: its DHT counts and symbols; ``single``: its one-symbol
    table), or None while it does not pay: first seen in a scan of fewer than :data:`RUN_TABLE_BLOCKS` blocks."""
    with _LOCK:
        known = _TABLES.get(key)
        if known is not None:
            _TABLES.move_to_end(key)
            return known
        if key not in _SEEN and blocks < RUN_TABLE_BLOCKS:
            _remember(_SEEN, key, None, _SEEN_KEPT)  # built when seen again
            return None
    built = _build(single)
    with _LOCK:
        _SEEN.pop(key, None)
        _remember(_TABLES, key, built, _KEPT)
    return built


def _remember(kept: OrderedDict, key: Key, value: RunTable | None, size: int) -> None:
    kept[key] = value
    kept.move_to_end(key)
    while len(kept) > size:
        kept.popitem(last=False)


def _build(single: list[tuple[int, int, int]]) -> RunTable:
    """Decode the symbols at the start of every look-ahead at once, one symbol position per step."""
    consumed_of, run_of, value_of = np.array(single, dtype=np.int64).T
    look = np.arange(1 << _BITS, dtype=np.int64)
    position, span = np.zeros_like(look), np.zeros_like(look)
    ends, active = np.zeros(look.shape, bool), np.ones(look.shape, bool)
    codes, count = np.zeros((look.size, 8), np.int32), np.zeros_like(look)
    for _ in range(_BITS):  # at most 16 whole symbols (1-bit codes without extra bits)
        at = (look << position) & ((1 << _BITS) - 1)
        consumed, run, value = consumed_of[at], run_of[at], value_of[at]
        whole = active & (consumed > 0) & (position + consumed <= _BITS)
        if not whole.any():
            break
        position += np.where(whole, consumed, 0)
        end_of_block = whole & (run == 64)  # the one-symbol tables' end-of-block run
        ends |= end_of_block
        symbol = whole & ~end_of_block
        span += np.where(symbol, run, 0)
        coded = symbol & (value != 0)  # a value has at least 1 code bit and 1 extra bit: at most 8
        rows = np.flatnonzero(coded)
        codes[rows, count[rows]] = (span[rows] << 16) + value[rows] + 32768
        count += coded
        span += symbol
        active = symbol
    # Few distinct entries: one tuple object each (a few hundred kB instead of several MB).
    distinct: dict[tuple[int, int, int, int], tuple[int, int, int, int]] = {}
    entries = zip(position.tolist(), span.tolist(), (span + ends).tolist(), count.tolist(), strict=True)
    first = np.cumsum(count) - count
    return RunTable([distinct.setdefault(entry, entry) for entry in entries], codes[codes != 0], first, count)


def expand_runs(records: list[int], tables: list[RunTable]) -> tuple[np.ndarray, np.ndarray]:
    """The coefficients the decoding loop recorded as ``(position << 20) | (table << 16) | look-ahead``.

    Returns:
        Their indices in the file's coefficients (zigzag positions within blocks) and their values.
    """
    packed = np.asarray(records, np.int64)
    table = (packed >> 16) & 15
    indices, values = [], []
    for number, run in enumerate(tables):
        mine = packed if len(tables) == 1 else packed[table == number]
        start, look = mine >> 20, mine & 0xFFFF
        count = run.count[look]
        # Each record's codes: its look-ahead's, from ``first`` on (a record per code, by repeats).
        record = np.repeat(np.arange(len(look)), count)
        nth = np.arange(len(record)) - np.repeat(np.cumsum(count) - count, count)
        code = run.codes[run.first[look][record] + nth].astype(np.int64)
        indices.append(start[record] + (code >> 16))
        values.append((code & 0xFFFF) - 32768)
    return np.concatenate(indices), np.concatenate(values)
