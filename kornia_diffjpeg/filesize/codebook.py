"""Huffman codebooks as tensors: the standard tables and libjpeg's optimal tables, batched over tables.

A table is given JPEG's way, as ``bits`` (how many codes of each length 1..16) and ``values`` (the
symbols in order of increasing code length); codes are assigned canonically (ITU-T T.81 Annex C).
Here every table becomes two symbol-indexed tensors, each code and its length in bits, batched over
tables so that per-image optimal tables are built and looked up without Python loops over images.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

from kornia_diffjpeg._checks import check_choice
from kornia_diffjpeg.filesize.huffman import STANDARD_HUFFMAN

__all__ = [
    "AC_SYMBOLS",
    "DC_SYMBOLS",
    "MAX_AC_SYMBOLS",
    "canonical_codes",
    "optimal_bits_and_values",
    "standard_codes",
]

#: Symbol alphabet sizes: DC size categories 0..11, AC bytes (run << 4) | size.
DC_SYMBOLS, AC_SYMBOLS = 12, 256
#: AC symbols a baseline coder can use: (run 0..15, size 1..10), EOB (0x00) and ZRL (0xF0).
MAX_AC_SYMBOLS = 162
_MAX_CODE_LENGTH = 16


def canonical_codes(bits: Tensor, values: Tensor, symbols: int) -> tuple[Tensor, Tensor]:
    """Symbol-indexed codes and code lengths of tables given as (bits, values).

    Args:
        bits: (T, 16) int64, number of codes of each length 1..16.
        values: (T, V) int64 symbols in code order; entries past ``bits.sum()`` are ignored.
        symbols: alphabet size; symbols without a code get length 0.

    Returns:
        codes and lengths, each (T, symbols) int64.
    """
    tables, count = values.shape
    lengths_range = torch.arange(1, _MAX_CODE_LENGTH + 1, device=bits.device)
    ends = bits.cumsum(1)  # first position after the codes of each length
    starts = ends - bits
    # Canonical first code of each length: first[L] = (first[L-1] + bits[L-1]) << 1, that is the sum over
    # k < L of bits[k] << (L - k): each term shifted to a common scale, summed, shifted back (exact).
    scale = _MAX_CODE_LENGTH - lengths_range + 1  # 16 - L for L = 0..15
    shifted = bits << scale
    first = (shifted.cumsum(1) - shifted) >> scale
    position = torch.arange(count, device=bits.device).expand(tables, count)
    slot = torch.searchsorted(ends, position.contiguous(), right=True).clamp_(max=_MAX_CODE_LENGTH - 1)
    used = position < ends[:, -1:]
    code = first.gather(1, slot) + position - starts.gather(1, slot)
    code_length = torch.where(used, lengths_range[slot], 0)
    codes = torch.zeros(tables, symbols + 1, dtype=torch.int64, device=bits.device)
    lengths = torch.zeros_like(codes)
    target = torch.where(used, values, symbols)  # unused positions land in a spare column
    codes.scatter_(1, target, torch.where(used, code, 0))
    lengths.scatter_(1, target, code_length)
    return codes[:, :symbols], lengths[:, :symbols]


@functools.cache
def _standard_codes_cpu(kind: str) -> tuple[Tensor, Tensor]:
    tables = [STANDARD_HUFFMAN[f"{kind}_{component}"] for component in ("luma", "chroma")]
    bits = torch.tensor([t[0] for t in tables])
    symbols = [bytes.fromhex(t[1]) for t in tables]
    size = max(map(len, symbols))
    values = torch.tensor([list(v) + [0] * (size - len(v)) for v in symbols])
    return canonical_codes(bits, values, DC_SYMBOLS if kind == "dc" else AC_SYMBOLS)


def standard_codes(kind: str, device: torch.device) -> tuple[Tensor, Tensor]:
    """Codes and lengths (2, symbols) of the standard ``"dc"`` or ``"ac"`` tables (luma, chroma)."""
    check_choice("kind", kind, ("dc", "ac"))
    codes, lengths = _standard_codes_cpu(kind)
    return codes.to(device), lengths.to(device)


def _huffman_code_sizes(counts: np.ndarray) -> np.ndarray:
    """Code sizes (T, symbols + 1) of an unlimited Huffman code, merging as libjpeg's ``jpeg_gen_optimal_table``.

    A reserved symbol of count 1 is appended (last index) so that no real code is all ones. Each step
    joins the two least frequent trees; among equal counts the higher symbol index goes first, the
    tree keeping the index of the first. A symbol's code size is its depth in the final tree: the
    merges are recorded, then walked back from the root (each merge puts both trees one level deeper).

    NumPy on the host: the merges are sequential (one step per symbol, a handful of tiny operations
    each), far cheaper there than as thousands of dispatched tensor ops (kernel launches on a GPU).
    """
    tables, symbols = counts.shape
    freq = np.concatenate([counts, np.ones((tables, 1), np.int64)], 1)
    never = np.iinfo(np.int64).max
    tie = symbols - np.arange(symbols + 1)  # smaller for higher indices
    key = np.where(freq > 0, freq * (symbols + 1) + tie, never)
    rows = np.arange(tables)
    merges = int((freq > 0).sum(1).max()) - 1  # one fewer than the trees of the largest table
    history = np.zeros((max(merges, 0), 3, tables), np.int64)  # first, second, merging
    for step in range(merges):
        first = key.argmin(1)
        first_key = key[rows, first]
        key[rows, first] = never
        second = key.argmin(1)
        merging = key[rows, second] < never  # False once a table is a single tree
        joined = freq[rows, first] + freq[rows, second]
        freq[rows, first] = np.where(merging, joined, freq[rows, first])
        key[rows, first] = np.where(merging, joined * (symbols + 1) + tie[first], first_key)
        key[rows, second] = np.where(merging, never, key[rows, second])
        history[step] = first, second, merging
    depth = np.zeros((tables, symbols + 1), np.int64)
    for first, second, merging in history[::-1]:  # from the root down: both trees of a merge one level deeper
        deeper = depth[rows, first] + merging
        depth[rows, second] = np.where(merging, deeper, depth[rows, second])
        depth[rows, first] = deeper
    return depth


def _limit_lengths(bits: np.ndarray) -> np.ndarray:
    """Annex K.3 length limiting to 16 bits: move codes up from each overlong length (rarely needed)."""
    bits = bits.copy()
    if not bool((bits[:, _MAX_CODE_LENGTH + 1 :] > 0).any()):
        return bits
    for row in bits:
        for i in range(len(row) - 1, _MAX_CODE_LENGTH, -1):
            while row[i] > 0:
                j = i - 2
                while row[j] == 0:
                    j -= 1
                row[i] -= 2  # two leaves of length i lose their parent...
                row[i - 1] += 1  # ...one of them takes its place...
                row[j + 1] += 2  # ...and the other pairs with a leaf moved down from a shorter length
                row[j] -= 1
    return bits


def optimal_bits_and_values(counts: Tensor) -> tuple[Tensor, Tensor]:
    """libjpeg's optimal Huffman tables (``jpeg_gen_optimal_table``) from symbol counts.

    Built on the host with NumPy (the counts are a few kilobytes: one copy, one host sync), returned on
    the counts' device.

    Args:
        counts: (T, symbols) int64 symbol counts of T tables.

    Returns:
        bits (T, 16) and values (T, symbols): the tables as a DHT segment writes them; the number
        of values of each table is ``bits.sum(1)``, the number of symbols with a non-zero count.
    """
    host = counts.detach().cpu().numpy().astype(np.int64)
    tables, symbols = host.shape
    sizes = _huffman_code_sizes(host)
    longest = max(2 * _MAX_CODE_LENGTH, int(sizes.max(initial=0)))
    histogram = np.zeros((tables, longest + 1), np.int64)
    np.add.at(histogram, (np.arange(tables)[:, None], sizes), sizes > 0)
    bits = _limit_lengths(histogram)[:, 1 : _MAX_CODE_LENGTH + 1]
    # Drop the reserved code: one code of the longest length in use.
    longest_used = np.where(bits > 0, np.arange(1, _MAX_CODE_LENGTH + 1), 0).argmax(1)
    bits[np.arange(tables), longest_used] -= 1
    # Values: real symbols by (unlimited) code size, then symbol; the limited bits assign their lengths.
    real = sizes[:, :symbols]
    key = np.where(real > 0, real * (symbols + 1) + np.arange(symbols), np.iinfo(np.int64).max)
    values = key.argsort(1, kind="stable")
    return torch.from_numpy(bits).to(counts.device), torch.from_numpy(values).to(counts.device)
