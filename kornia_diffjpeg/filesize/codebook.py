"""Huffman codebooks as tensors: the standard tables and libjpeg's optimal tables, batched over tables.

A table is given JPEG's way, as ``bits`` (how many codes of each length 1..16) and ``values`` (the
symbols in order of increasing code length); codes are assigned canonically (ITU-T T.81 Annex C).
Here every table becomes two symbol-indexed tensors, each code and its length in bits, batched over
tables so that per-image optimal tables are built and looked up without Python loops over images.
"""

from __future__ import annotations

import functools

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
    # Canonical first code of each length: first[L] = (first[L-1] + bits[L-1]) << 1.
    first = torch.zeros_like(bits)
    for length in range(1, _MAX_CODE_LENGTH):
        first[:, length] = (first[:, length - 1] + bits[:, length - 1]) << 1
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


def _huffman_code_sizes(counts: Tensor, merges: int) -> Tensor:
    """Code sizes of an unlimited Huffman code, merging as libjpeg's ``jpeg_gen_optimal_table``.

    A reserved symbol of count 1 is appended (last index) so that no real code is all ones. Each step
    joins the two least frequent trees; among equal counts the higher symbol index goes first, the
    tree keeping the index of the first. Trees are tracked by the representative of each symbol.
    """
    tables, symbols = counts.shape
    freq = torch.cat([counts, torch.ones_like(counts[:, :1])], 1)
    index = torch.arange(symbols + 1, device=counts.device)
    tree = index.expand(tables, -1).clone()
    sizes = torch.zeros_like(freq)
    never = torch.iinfo(torch.int64).max
    tie = symbols - index  # smaller for higher indices
    for _ in range(merges):
        key = torch.where(freq > 0, freq * (symbols + 1) + tie, never)
        first = key.argmin(1, keepdim=True)
        key = key.scatter(1, first, never)
        second = key.argmin(1, keepdim=True)
        merging = key.gather(1, second) < never  # False once a table is a single tree
        second_freq = torch.where(merging, freq.gather(1, second), 0)
        freq = freq.scatter_add(1, first, second_freq).scatter_add(1, second, -second_freq)
        in_second = (tree == second) & merging
        sizes += ((tree == first) & merging) | in_second
        tree = torch.where(in_second, first, tree)
    return sizes


def _limit_lengths(bits: Tensor) -> Tensor:
    """Annex K.3 length limiting to 16 bits: move codes up from each overlong length (rarely needed)."""
    bits = bits.clone()
    if not bool((bits[:, _MAX_CODE_LENGTH + 1 :] > 0).any()):
        return bits
    rows = bits.cpu().tolist()
    for row in rows:
        for i in range(len(row) - 1, _MAX_CODE_LENGTH, -1):
            while row[i] > 0:
                j = i - 2
                while row[j] == 0:
                    j -= 1
                row[i] -= 2  # two leaves of length i lose their parent...
                row[i - 1] += 1  # ...one of them takes its place...
                row[j + 1] += 2  # ...and the other pairs with a leaf moved down from a shorter length
                row[j] -= 1
    return torch.tensor(rows, dtype=bits.dtype, device=bits.device)


def optimal_bits_and_values(counts: Tensor) -> tuple[Tensor, Tensor]:
    """libjpeg's optimal Huffman tables (``jpeg_gen_optimal_table``) from symbol counts.

    Args:
        counts: (T, symbols) int64 symbol counts of T tables.

    Returns:
        bits (T, 16) and values (T, symbols): the tables as a DHT segment writes them; the number
        of values of each table is ``bits.sum(1)``, the number of symbols with a non-zero count.
    """
    tables, symbols = counts.shape
    merges = int((counts > 0).sum(1).max())  # with the reserved symbol: one merge per real symbol (a host sync)
    sizes = _huffman_code_sizes(counts, merges)
    longest = max(2 * _MAX_CODE_LENGTH, merges)  # a code size never exceeds the merge count
    histogram = torch.zeros(tables, longest + 1, dtype=torch.int64, device=counts.device)
    histogram.scatter_add_(1, sizes, (sizes > 0).long())
    bits = _limit_lengths(histogram)[:, 1 : _MAX_CODE_LENGTH + 1]
    # Drop the reserved code: one code of the longest length in use.
    lengths_range = torch.arange(1, _MAX_CODE_LENGTH + 1, device=counts.device)
    longest_used = torch.where(bits > 0, lengths_range, 0).argmax(1, keepdim=True)
    bits = bits.scatter_add(1, longest_used, -torch.ones_like(longest_used))
    # Values: real symbols by (unlimited) code size, then symbol; the limited bits assign their lengths.
    real = sizes[:, :symbols]
    key = real * (symbols + 1) + torch.arange(symbols, device=counts.device)
    key = torch.where(real > 0, key, torch.iinfo(torch.int64).max)
    return bits, key.argsort(1)
