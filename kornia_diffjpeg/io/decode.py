"""Read the quantized DCT coefficients of baseline JPEG files (what ``jpeglib.read_dct`` reads).

The markers are parsed in Python; the entropy-coded segments are found, split at restart markers
and unstuffed with NumPy; the Huffman decoding, sequential by nature, is a tight Python loop over
the coded symbols: each symbol is one 16-bit look-ahead into a per-table lookup table that gives
the bits consumed, the zero run and the coefficient value (code and extra bits together when they
fit in 16 bits, as libjpeg-turbo's fast path does). A block's AC symbols are taken two or three at a
time where a run table exists (:mod:`kornia_diffjpeg.io.runs`: every whole symbol of the look-ahead
at once). Only the non-zero AC coefficients and each block's DC difference are recorded; NumPy sums
the DC predictors of each scan per component and restart interval, and scatters everything into the
blocks, which move to the device at the end.
"""

from __future__ import annotations

import functools
import itertools
from array import array
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import numpy as np
import torch

from kornia_diffjpeg._checks import IMAGE_DTYPES
from kornia_diffjpeg.codec.pipeline import JPEGCoefficients
from kornia_diffjpeg.filesize.huffman import ZIGZAG
from kornia_diffjpeg.io.runs import RunTable, expand_runs, run_table

__all__ = ["decode_jpeg"]

#: (luma h, v) sampling factors of each layout ``JPEGCoefficients`` holds (chroma 1x1).
_LAYOUTS = {(2, 2): "4:2:0", (2, 1): "4:2:2", (1, 1): "4:4:4"}
_SOF_NAMES = {
    0xC1: "extended sequential",
    0xC2: "progressive",
    0xC3: "lossless",
    0xC5: "differential sequential",
    0xC6: "differential progressive",
    0xC7: "differential lossless",
    0xC9: "arithmetic-coded extended sequential",
    0xCA: "arithmetic-coded progressive",
    0xCB: "arithmetic-coded lossless",
    0xCD: "arithmetic-coded differential sequential",
    0xCE: "arithmetic-coded differential progressive",
    0xCF: "arithmetic-coded differential lossless",
}
_EOB = 64  # run marking the end of block in the lookup tables


#: A Huffman table as its DHT segment gives it: the number of codes of each length, the symbols.
DHT = tuple[tuple[int, ...], bytes]


@dataclass
class _Component:
    identifier: int
    h: int
    v: int
    table: int
    offset: int = 0  # first coefficient of its blocks in the file's coefficient array
    rows: int = 0  # its block grid, padded to whole MCUs
    cols: int = 0
    visible: tuple[int, int] = (0, 0)  # block rows and columns of the component's samples
    quantization: np.ndarray | None = None  # its table as its first scan found it (libjpeg latches it then)


@dataclass
class _File:
    height: int = 0
    width: int = 0
    components: list[_Component] = field(default_factory=list)
    tables: dict[int, np.ndarray] = field(default_factory=dict)
    huffman: dict[tuple[int, int], DHT] = field(default_factory=dict)
    restart: int = 0
    adobe_transform: int | None = None
    jfif: bool = False  # an APP0 JFIF marker: YCbCr whatever the Adobe marker or the component ids say
    scanned: set[int] = field(default_factory=set)  # components coded by a scan so far
    run_tables: list[RunTable] = field(default_factory=list)  # numbered in the decoding loop's records


@dataclass
class _Decoded:
    """What the scans of a file decoded, as the decoding loop records it (see :func:`_decode_interval`)."""

    packed: list[int] = field(default_factory=list)  # AC coefficients decoded one at a time
    runs: list[int] = field(default_factory=list)  # starts of whole AC symbols from run tables
    dc: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)  # (index, value) of the DC coefficients


@functools.lru_cache(maxsize=64)  # under 1 MB each; rebuilt in a few ms
def _lookup_table(bits: tuple[int, ...], values: bytes, ac: bool) -> list[tuple[int, int, int]]:
    """For every 16-bit look-ahead: (bits consumed, zero run, value) of the symbol it starts with.

    When the code and its extra bits fit in 16 bits, the entry is complete; otherwise it is
    ``(-code length, symbol, 0)`` and the extra bits are read apart. ``(0, 0, 0)``: no such code.
    A DC entry's run is 0; an AC entry's run is its zero run (15 with value 0 for ZRL, 64 for EOB).
    Built with NumPy: a file with its own tables (e.g. optimized ones) builds four of them.
    """
    symbols = np.frombuffer(values, np.uint8).astype(np.int64)
    lengths = np.repeat(np.arange(1, 17), bits)
    code = 0
    for bit_length, count in enumerate(bits, start=1):
        if code + count > 1 << bit_length:  # libjpeg's check: the codes of this length overflow it
            raise ValueError("a scan uses a bogus Huffman table (more codes than their lengths allow)")
        if not ac and count and symbols[lengths == bit_length].max() > 15:  # libjpeg refuses DC symbols past 15
            bogus = int(symbols[(lengths == bit_length) & (symbols > 15)][0])
            raise ValueError(f"a scan uses a bogus Huffman table (DC symbol {bogus} > 15)")
        code = (code + count) << 1  # canonical codes: consecutive within a length, then one bit longer
    # The codes' look-ahead ranges follow one another from 0: each look-ahead's symbol by a repeat.
    spans = 1 << (16 - lengths)
    symbol_of = np.repeat(np.arange(len(symbols)), spans)
    look = np.arange(len(symbol_of))
    length, symbol = lengths[symbol_of], symbols[symbol_of]
    size = symbol & 15 if ac else symbol
    run = symbol >> 4 if ac else np.zeros_like(symbol)
    if ac:
        run = np.where(size == 0, np.where(symbol == 0xF0, 15, _EOB), run)  # ZRL, else EOB
    whole = length + size <= 16
    extra = (look >> np.where(whole, 16 - length - size, 0)) & ((1 << size) - 1)
    value = np.where(extra < (1 << size) >> 1, extra - (1 << size) + 1, extra) * (size > 0)
    consumed = np.where(whole, length + size, -length)
    second, third = np.where(whole, run, symbol), np.where(whole, value, 0)
    # Equal entries come in runs (a code's look-aheads that share its extra bits): one tuple per run, a few
    # thousand, referenced from every look-ahead of it (65536 new tuples take longer than all the rest).
    starts = np.ones(len(look), bool)
    starts[1:] = (np.diff(consumed) != 0) | (np.diff(second) != 0) | (np.diff(third) != 0)
    entries = list(zip(consumed[starts].tolist(), second[starts].tolist(), third[starts].tolist(), strict=True))
    run_of = np.cumsum(starts) - 1
    return [*map(entries.__getitem__, run_of.tolist()), *[(0, 0, 0)] * (65536 - len(look))]


def _lookahead(segment: np.ndarray) -> array:
    """The 16 bits that start at every bit of an unstuffed segment (zeros past its end)."""
    padded = np.concatenate([segment, np.zeros(4, np.uint8)]).astype(np.uint32)
    window = (padded[:-2] << 16) | (padded[1:-1] << 8) | padded[2:]  # 24 bits from each byte
    shifts = np.arange(8, 0, -1, dtype=np.uint32)
    return array("H", ((window[:, None] >> shifts) & 0xFFFF).astype(np.uint16).tobytes())


def _decode_interval(
    bits: array, bases: list[int], coders: list[tuple[list, list, list, int]], decoded: _Decoded, differences: list[int]
) -> None:
    """Huffman-decode the blocks of one restart interval, in coding order; append their non-zero AC
    coefficients to ``decoded.packed``, each as ``(index << 16) + value + 32768`` (index of the
    coefficient in zigzag order), and the starts of the whole AC symbols taken from a run table to
    ``decoded.runs`` (see :func:`expand_runs`).

    Args:
        bits: see :func:`_lookahead`.
        bases: the index of each block's first coefficient.
        coders: per block of an MCU (repeated over the blocks): its DC and AC lookup tables, its AC run
            table's entries (:class:`RunTable`, or no whole symbols anywhere) and its number in
            ``decoded.runs`` records, shifted.
        differences: where each block's DC difference is appended (the predictors are summed apart, with
            NumPy, for the whole scan).
    """
    position = 0
    append = decoded.packed.append
    record = decoded.runs.append
    difference = differences.append
    # Whole symbols come from the padding past the data only one at a time, so that a truncated scan
    # fails (a look-up past the end) whether or not its tables have run tables.
    last_whole = len(bits) - 16
    for base, (dc, ac, whole, number) in zip(bases, itertools.cycle(coders)):
        consumed, size, diff = dc[bits[position]]
        if consumed > 0:
            position += consumed
        elif consumed < 0:
            position -= consumed
            extra = bits[position] >> (16 - size) if size else 0
            diff = extra - (1 << size) + 1 if size and extra < (1 << (size - 1)) else extra
            position += size
        else:
            raise ValueError("invalid Huffman code in the scan (corrupt data)")
        difference(diff)
        k = base + 1
        end = base + 64
        while k < end:
            look = bits[position]
            consumed, span, reach, count = whole[look]
            # Whole symbols at once, when they stay in the block (and no end of block follows
            # its last coefficient: none is coded there).
            if consumed and k + reach <= end and position <= last_whole:
                position += consumed
                if count:
                    record((k << 20) | number | look)
                if reach > span:
                    break
                k += span
                continue
            consumed, run, value = ac[look]
            if consumed > 0:
                position += consumed
                if run == _EOB:
                    break
                k += run
                if value:
                    append((k << 16) + value + 32768)
                k += 1
            elif consumed < 0:
                position -= consumed
                size, k = run & 15, k + (run >> 4)
                extra = bits[position] >> (16 - size)
                append((k << 16) + (extra - (1 << size) + 1 if extra < (1 << (size - 1)) else extra) + 32768)
                position += size
                k += 1
            else:
                raise ValueError("invalid Huffman code in the scan (corrupt data)")
        if k > end:
            raise ValueError("a block's zero runs pass its 64 coefficients (corrupt data)")


def _dc_values(differences: list[int], shape: tuple[int, ...], components: list[int], interval: int) -> np.ndarray:
    """The DC coefficients (MCUs, blocks per MCU) of a scan's blocks from their differences: a running sum per
    component in coding order, from 0 at each restart interval of ``interval`` MCUs, stored in 16 bits as
    libjpeg stores them (corrupt files overflow it)."""
    values = np.asarray(differences, np.int64).reshape(shape)
    mcus = shape[0]
    firsts = np.arange(interval, mcus, interval)  # each restart interval's first MCU, after the first interval
    rows = np.diff(np.r_[0, firsts, mcus])  # MCUs per interval
    for component in set(components):
        mine = [i for i, c in enumerate(components) if c == component]
        sums = np.cumsum(values[:, mine].reshape(-1)).reshape(mcus, len(mine))
        before = np.r_[0, sums[firsts - 1, -1]]  # the running sum where each interval starts
        values[:, mine] = sums - np.repeat(before, rows)[:, None]
    return ((values + 32768) & 0xFFFF) - 32768


def _segments(data: np.ndarray, start: int) -> tuple[list[np.ndarray], int]:
    """The entropy-coded data from ``start``: unstuffed restart intervals, and the next marker's offset."""
    ff = np.flatnonzero(data[start:-1] == 0xFF) + start
    following = data[ff + 1]
    restart = (following >= 0xD0) & (following <= 0xD7)
    ends = ff[(following != 0) & ~restart]
    if ends.size == 0:
        raise ValueError("the scan is not terminated by a marker (truncated file)")
    end = int(ends[0])
    markers = ff[restart & (ff < end)]
    numbers = data[markers + 1].astype(np.int64) - 0xD0
    if (numbers != np.arange(len(numbers)) % 8).any():  # RST0, RST1, ..., RST7, RST0, ...
        raise ValueError("the scan's restart markers are out of order (corrupt data)")
    bounds = [start, *(int(m) for m in markers), end]
    stuffed = ff[(following == 0) & (ff < end)] + 1  # the 0x00 after each 0xFF byte
    keep = np.ones(end - start, bool)
    keep[stuffed - start] = False
    intervals = []
    for i in range(len(bounds) - 1):
        low = bounds[i] + (2 if i else 0)  # skip the RSTn marker
        intervals.append(data[low : bounds[i + 1]][keep[low - start : bounds[i + 1] - start]])
    return intervals, end


def _frame(file: _File, marker: int, body: np.ndarray) -> None:
    if marker != 0xC0 and marker != 0xC1:
        raise ValueError(
            f"{_SOF_NAMES[marker]} JPEG (SOF{marker - 0xC0}) is not supported: only baseline sequential Huffman"
        )
    if file.components:
        raise ValueError("the file has two frame headers (SOF) (corrupt data)")
    if len(body) < 6:
        raise ValueError(f"the frame header (SOF) has {len(body)} bytes, fewer than 6 (corrupt data)")
    precision = int(body[0])
    if precision != 8:
        raise ValueError(f"{precision}-bit JPEG is not supported: only 8-bit samples")
    file.height, file.width = int(body[1]) << 8 | int(body[2]), int(body[3]) << 8 | int(body[4])
    if file.height == 0:
        raise ValueError("the image height is set by a DNL marker (height 0 in SOF), which is not supported")
    if file.width == 0:
        raise ValueError("the frame header (SOF) gives width 0 (corrupt data)")
    count = int(body[5])
    if count == 0 or len(body) != 6 + 3 * count:
        raise ValueError(f"the frame header (SOF) has {len(body)} bytes for {count} components (corrupt data)")
    for i in range(count):
        identifier, sampling, table = (int(b) for b in body[6 + 3 * i : 9 + 3 * i])
        h, v = sampling >> 4, sampling & 15
        if not (1 <= h <= 4 and 1 <= v <= 4):  # libjpeg's limits
            raise ValueError(f"component {identifier} has sampling factors {h}x{v}; JPEG allows 1 to 4 (corrupt data)")
        if any(c.identifier == identifier for c in file.components):
            raise ValueError(f"the frame header (SOF) declares component {identifier} twice (corrupt data)")
        file.components.append(_Component(identifier, h, v, table))


def _quantization_tables(file: _File, body: np.ndarray) -> None:
    i = 0
    while i < len(body):
        precision, index = int(body[i]) >> 4, int(body[i]) & 15
        if precision > 1 or index > 3:
            raise ValueError(
                f"a DQT segment defines table {index} of precision {precision}: JPEG has tables 0 to 3 "
                "of 8 or 16 bits (corrupt data)"
            )
        size = 128 if precision else 64
        if i + 1 + size > len(body):
            raise ValueError(f"a DQT segment ends within its table {index} (corrupt data)")
        entries = body[i + 1 : i + 1 + size].astype(np.int64)
        if precision:
            entries = entries[0::2] << 8 | entries[1::2]
        i += 1 + size
        natural = np.empty(64, np.int64)
        natural[list(ZIGZAG)] = entries
        file.tables[index] = natural.reshape(8, 8)


def _huffman_tables(file: _File, body: np.ndarray) -> None:
    i = 0
    while i < len(body):
        if i + 17 > len(body):
            raise ValueError("a DHT segment ends within a table's code counts (corrupt data)")
        kind, index = int(body[i]) >> 4, int(body[i]) & 15
        if kind > 1 or index > 3:
            raise ValueError(
                f"a DHT segment defines table {body[i]:#04x}: JPEG has DC and AC tables 0 to 3 (corrupt data)"
            )
        bits = tuple(int(b) for b in body[i + 1 : i + 17])
        count = sum(bits)
        if count > 256 or i + 17 + count > len(body):
            raise ValueError(f"a DHT segment's table has {count} codes, more than its bytes or 256 (corrupt data)")
        file.huffman[kind, index] = (bits, bytes(body[i + 17 : i + 17 + count]))
        i += 17 + count


def _layout(file: _File) -> str:
    components = file.components
    if len(components) == 1:
        return "gray"
    found = ", ".join(f"{c.h}x{c.v}" for c in components)
    if len(components) != 3:
        raise ValueError(f"{len(components)}-component JPEG (sampling {found}) is not supported: only gray or YCbCr")
    luma, cb, cr = components
    # The layout is the ratio of the factors: 2x2, 2x2, 2x2 is 4:4:4 (libjpeg upsamples by the ratio).
    ratio = (luma.h // cb.h, luma.v // cb.v)
    if (cb.h, cb.v) != (cr.h, cr.v) or luma.h % cb.h or luma.v % cb.v or ratio not in _LAYOUTS:
        raise ValueError(f"chroma layout with sampling factors {found} is not supported: only 4:2:0, 4:2:2, 4:4:4")
    # libjpeg's rule for three components: JFIF means YCbCr; else Adobe's transform 0 means RGB;
    # else the component ids 'R', 'G', 'B' mean RGB.
    if not file.jfif and file.adobe_transform == 0:
        raise ValueError("Adobe JPEG with RGB components (no YCbCr transform) is not supported")
    if (
        not file.jfif
        and file.adobe_transform is None
        and (luma.identifier, cb.identifier, cr.identifier) == (82, 71, 66)
    ):
        raise ValueError("RGB JPEG (components 'R', 'G', 'B' and no JFIF or Adobe marker) is not supported")
    return _LAYOUTS[ratio]


def _allocate(file: _File) -> int:
    """Block grids of the components (padded to whole MCUs), their offsets; returns the coefficient count."""
    h_max = max(c.h for c in file.components)
    v_max = max(c.v for c in file.components)
    mcu_rows, mcu_cols = -(-file.height // (8 * v_max)), -(-file.width // (8 * h_max))
    offset = 0
    for c in file.components:
        if len(file.components) == 1:  # one component: its own blocks, no MCU padding
            c.h = c.v = h_max = v_max = 1
        height, width = -(-file.height * c.v // v_max), -(-file.width * c.h // h_max)
        c.visible = (-(-height // 8), -(-width // 8))
        c.rows, c.cols = c.visible if len(file.components) == 1 else (mcu_rows * c.v, mcu_cols * c.h)
        c.offset = offset
        offset += c.rows * c.cols * 64
    return offset


def _scan(file: _File, body: np.ndarray, data: np.ndarray, start: int, decoded: _Decoded) -> int:
    """Decode one scan starting at ``start`` (after its SOS segment); returns the offset of the next marker."""
    count = int(body[0]) if len(body) else 0
    if not 1 <= count <= 4 or len(body) != 4 + 2 * count:
        raise ValueError(f"the scan header (SOS) has {len(body)} bytes for {count} components (corrupt data)")
    selection = body[1 + 2 * count : 4 + 2 * count]
    if (int(selection[0]), int(selection[1]), int(selection[2])) != (0, 63, 0):
        raise ValueError("a scan with spectral selection or successive approximation (progressive) is not supported")
    by_id = {c.identifier: i for i, c in enumerate(file.components)}
    members, tables = [], []
    for i in range(count):
        identifier, selectors = int(body[1 + 2 * i]), int(body[2 + 2 * i])
        if identifier not in by_id:
            raise ValueError(f"a scan names component {identifier}, which the frame does not have")
        if by_id[identifier] in file.scanned:
            raise ValueError(f"component {identifier} is coded by two scans (corrupt data)")
        file.scanned.add(by_id[identifier])
        members.append(file.components[by_id[identifier]])
        _latch_table(file, members[-1])
        dc, ac = (0, selectors >> 4), (1, selectors & 15)
        if dc not in file.huffman or ac not in file.huffman:
            raise ValueError("a scan uses a Huffman table that the file does not define")
        tables.append((by_id[identifier], file.huffman[dc], file.huffman[ac]))
    intervals, end = _segments(data, start)
    # Every block takes 2 bits at least (a DC code and an AC code): a file that claims more blocks
    # than its data can hold is refused before its grid is built (a few bytes could claim 65500 x 65500).
    if count == 1:
        blocks = members[0].visible[0] * members[0].visible[1]
    else:
        c0 = members[0]
        blocks = (c0.rows // c0.v) * (c0.cols // c0.h) * sum(c.h * c.v for c in members)
    if blocks > 4 * sum(len(segment) + 3 for segment in intervals):
        raise ValueError("the scan ends before its last block (truncated or corrupt data)")
    # One sighting per table and scan (Cb and Cr share theirs).
    whole = {ac: run_table(ac, _lookup_table(*ac, True), blocks) for ac in {ac: None for _, _, ac in tables}}
    scanned = [_slot_tables(file, component, dc, ac, whole[ac]) for component, dc, ac in tables]
    # Each MCU's blocks: the coefficient index of their first coefficient.
    if count == 1:
        c = members[0]
        rows, cols = np.mgrid[0 : c.visible[0], 0 : c.visible[1]]
        starts = (c.offset + (rows * c.cols + cols) * 64).reshape(-1, 1)
        slots = scanned
    else:
        mcu_rows, mcu_cols = c0.rows // c0.v, c0.cols // c0.h
        mcu_row, mcu_col = np.mgrid[0:mcu_rows, 0:mcu_cols]
        columns, slots = [], []
        for c, table in zip(members, scanned, strict=True):
            for dy in range(c.v):
                for dx in range(c.h):
                    row, col = mcu_row * c.v + dy, mcu_col * c.h + dx
                    columns.append((c.offset + (row * c.cols + col) * 64).reshape(-1))
                    slots.append(table)
        starts = np.stack(columns, 1)
    per_interval = file.restart or len(starts)
    if len(intervals) != -(-len(starts) // per_interval):
        raise ValueError(f"{len(intervals)} restart intervals where {-(-len(starts) // per_interval)} were expected")
    components = [component for component, _, _, _, _ in slots]
    coders = [(dc, ac, whole, number) for _, dc, ac, whole, number in slots]
    differences: list[int] = []
    for i, segment in enumerate(intervals):
        bases = starts[i * per_interval : (i + 1) * per_interval].reshape(-1).tolist()
        try:
            _decode_interval(_lookahead(segment), bases, coders, decoded, differences)
        except IndexError:
            raise ValueError("the scan ends before its last block (truncated or corrupt data)") from None
    values = _dc_values(differences, starts.shape, components, per_interval)
    decoded.dc.append((starts.reshape(-1), values.reshape(-1)))
    return end


def _slot_tables(
    file: _File, component: int, dc: DHT, ac: DHT, whole: RunTable | None
) -> tuple[int, list, list, list, int]:
    """A scanned component's tables as :func:`_decode_interval` takes them (its AC run table, if any,
    numbered in ``file.run_tables``)."""
    single = _lookup_table(*ac, True)
    if whole is None:
        return component, _lookup_table(*dc, False), single, _NO_WHOLE_SYMBOLS, 0
    if whole not in file.run_tables:
        file.run_tables.append(whole)
    return component, _lookup_table(*dc, False), single, whole.entries, file.run_tables.index(whole) << 16


#: The run-table entries of an AC table without one: no whole symbols, the one-symbol path every time.
_NO_WHOLE_SYMBOLS = [(0, 0, 0, 0)] * 65536

#: Markers without a length: TEM and RST0..RST7 (the latter belong in a scan; libjpeg skips them elsewhere).
_STANDALONE = {0x01, *range(0xD0, 0xD8)}


def _latch_table(file: _File, c: _Component) -> None:
    """A component's quantization table as defined now (at its first scan, as libjpeg latches it); it must
    fit ``JPEGCoefficients`` (8-bit, 1..255)."""
    table = file.tables.get(c.table)
    if table is None:
        raise ValueError(
            f"component {c.identifier} uses quantization table {c.table}, which the file does not define "
            "before its scan"
        )
    if table.min() < 1 or table.max() > 255:
        raise ValueError(
            f"quantization table {c.table} has entries in [{table.min()}, {table.max()}]; JPEGCoefficients "
            "holds tables in [1, 255]"
        )
    c.quantization = table


def _table(file: _File, component: int) -> np.ndarray:
    """The latched quantization table of a component (every component has one once the file is read)."""
    table = file.components[component].quantization
    assert table is not None
    return table


def _read(data: bytes) -> tuple[_File, np.ndarray]:
    """Parse one file; returns its description and its coefficients (natural order), flat."""
    data_array = np.frombuffer(data, np.uint8)
    size = len(data_array)
    if size < 4 or data_array[0] != 0xFF or data_array[1] != 0xD8:
        raise ValueError("not a JPEG file (no SOI marker)")
    file, i, coefficients = _File(), 2, None
    decoded = _Decoded()
    while True:
        while i + 1 < size and data_array[i] == 0xFF and data_array[i + 1] == 0xFF:
            i += 1  # fill bytes
        if i + 1 >= size or data_array[i] != 0xFF:
            raise ValueError("truncated or corrupt JPEG file (expected a marker)")
        marker = int(data_array[i + 1])
        if marker == 0xD9:
            break
        if marker in _STANDALONE:
            i += 2
            continue
        if not (0xC0 <= marker <= 0xDD or 0xE0 <= marker <= 0xEF or marker == 0xFE) or marker in (0xC8, 0xD8):
            raise ValueError(f"corrupt JPEG file (unknown or misplaced marker {marker:#04x} among the headers)")
        if i + 4 > size:
            raise ValueError("truncated JPEG file (it ends within a marker)")
        length = int(data_array[i + 2]) << 8 | int(data_array[i + 3])
        if length < 2 or i + 2 + length > size:
            raise ValueError(f"truncated or corrupt JPEG file (marker {marker:#04x} has length {length})")
        body = data_array[i + 4 : i + 2 + length]
        i += 2 + length
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            _frame(file, marker, body)
        elif marker == 0xCC:
            raise ValueError("arithmetic-coded JPEG (DAC marker) is not supported: only Huffman")
        elif marker == 0xDB:
            _quantization_tables(file, body)
        elif marker == 0xC4:
            _huffman_tables(file, body)
        elif marker == 0xDD:
            if len(body) != 2:
                raise ValueError(f"the restart interval segment (DRI) has {len(body)} bytes, not 2 (corrupt data)")
            file.restart = int(body[0]) << 8 | int(body[1])
        elif marker == 0xEE and bytes(body[:5]) == b"Adobe" and len(body) >= 12:
            file.adobe_transform = int(body[11])
        elif marker == 0xE0 and bytes(body[:5]) == b"JFIF\x00" and len(body) >= 14:
            file.jfif = True
        elif marker == 0xDA:
            if not file.components:
                raise ValueError("a scan comes before the frame header (SOF)")
            if coefficients is None:
                _layout(file)
                coefficients = _allocate(file)
            i = _scan(file, body, data_array, i, decoded)
    if coefficients is None:
        raise ValueError("the file has no scan")
    for c in file.components:  # a component no scan codes (its coefficients are 0): its table at the end
        if c.quantization is None:
            _latch_table(file, c)
    if len(file.components) == 3 and not np.array_equal(_table(file, 1), _table(file, 2)):
        raise ValueError("Cb and Cr use different quantization tables, which JPEGCoefficients cannot hold")
    packed = np.asarray(decoded.packed, np.int64)
    indices, values = (
        [packed >> 16, *(i for i, _ in decoded.dc)],
        [(packed & 0xFFFF) - 32768, *(v for _, v in decoded.dc)],
    )
    if decoded.runs:
        whole_index, whole_value = expand_runs(decoded.runs, file.run_tables)
        indices.append(whole_index)
        values.append(whole_value)
    index, value = np.concatenate(indices), np.concatenate(values)
    flat = np.zeros(coefficients, np.int32)
    flat[(index & ~63) | np.asarray(ZIGZAG, np.int64)[index & 63]] = value
    return file, flat


def _blocks(file: _File, flat: np.ndarray) -> list[np.ndarray]:
    """Each component's visible blocks (rows, cols, 64)."""
    grids = []
    for c in file.components:
        grid = flat[c.offset : c.offset + c.rows * c.cols * 64].reshape(c.rows, c.cols, 64)
        grids.append(grid[: c.visible[0], : c.visible[1]])
    return grids


def _is_file_tensor(data: object) -> bool:
    """A file's bytes as torchvision holds them: a 1-D uint8 tensor."""
    return isinstance(data, torch.Tensor) and data.dtype == torch.uint8 and data.ndim == 1 and not data.is_meta


def _described(value: object) -> str:
    """What a message says a value is: its type, or a tensor's dtype, shape and device."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)} on {value.device}"
    return type(value).__name__


def decode_jpeg(
    data: bytes | torch.Tensor | Sequence[bytes | torch.Tensor],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> JPEGCoefficients:
    """Read the quantized DCT coefficients and tables of baseline JPEG files.

    Reads baseline (and 8-bit extended) sequential Huffman-coded files as cameras, OpenCV, Pillow and
    libjpeg-turbo write them: one interleaved scan or one scan per component, with or without restart
    markers, grayscale or YCbCr in 4:2:0, 4:2:2 or 4:4:4. The coefficients equal what
    ``jpeglib.read_dct`` reads, so ``jpeg_decode(decode_jpeg(b), mode="exact")`` is the image
    ``cv2.imdecode(b)`` gives, and :func:`~kornia_diffjpeg.jpeg_decode` is differentiable w.r.t. the
    returned coefficients and tables (call ``requires_grad_()`` on them). The entropy decoding runs on
    the CPU in Python (sequential by nature); the result moves to ``device``.

    Args:
        data: one file's bytes (or a 1-D uint8 tensor of them, as ``torchvision.io.read_file`` gives),
            or a sequence of files of the same size and layout (a batch).
        device: where to put the tensors (default CPU).
        dtype: floating-point dtype of the decoded images; the coefficients and tables are float64 for
            float64, else float32 (half precision would round them).

    Returns:
        The coefficients, of batch shape () for one file and (B,) for a sequence.

    Raises:
        ValueError: progressive, arithmetic-coded, lossless, hierarchical or 12-bit files, layouts other
            than the above, CMYK or Adobe RGB files, corrupt data, or files of different sizes or
            layouts in one batch; the message names what was found.
        TypeError: ``data`` is not bytes (or a sequence of bytes), ``dtype`` not a floating-point dtype.

    Example:
        >>> from kornia_diffjpeg import encode_jpeg
        >>> coefficients = decode_jpeg(encode_jpeg(torch.rand(3, 16, 24), 90.0)[0])
        >>> coefficients.luma.shape, coefficients.subsampling, coefficients.batch_shape
        (torch.Size([1, 1, 2, 3, 64]), '4:2:0', ())
    """
    single = isinstance(data, (bytes, bytearray, memoryview)) or _is_file_tensor(data)
    try:
        # Strings, tensors that are not files and unordered collections (sets, mappings) are no sequences of files.
        unordered = isinstance(data, (str, torch.Tensor, AbstractSet, Mapping))
        files: list = [data] if single else [] if unordered else list(data)
    except TypeError:
        files = []
    data_items = files  # as given, for the message
    files = [f.cpu().numpy().tobytes() if _is_file_tensor(f) else f for f in files]
    bad = next((i for i, f in enumerate(files) if not isinstance(f, (bytes, bytearray, memoryview))), None)
    if not files or bad is not None:
        got = _described(data)
        if bad is not None and isinstance(data, (list, tuple)):
            got += f" whose data[{bad}] is {_described(data_items[bad])}"
        raise TypeError(
            "data must be bytes (or a 1-D uint8 tensor of a file's bytes, as torchvision.io.read_file gives) "
            f"or a non-empty sequence of them, got {got}"
        )
    if not isinstance(dtype, torch.dtype) or dtype not in IMAGE_DTYPES:
        raise TypeError(f"dtype must be float16, bfloat16, float32 or float64, got {dtype!r}")
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be a torch.device or a device string such as 'cuda', got {device!r}") from error
    # Half-precision coefficients would round (bfloat16 above 256): they are held in float32, as
    # jpeg_encode holds them, and ``dtype`` is the decoded images' dtype.
    stored = torch.float64 if dtype == torch.float64 else torch.float32
    parsed = [_read(bytes(f)) for f in files]
    layouts = {(_layout(f), f.height, f.width) for f, _ in parsed}
    if len(layouts) > 1:
        found = ", ".join(f"{layout} {h}x{w}" for layout, h, w in sorted(layouts))
        raise ValueError(f"files of one batch must share their size and layout, got {found}")
    ((layout, height, width),) = layouts
    grids = [_blocks(f, flat) for f, flat in parsed]
    luma = torch.from_numpy(np.stack([g[0] for g in grids])[:, None]).to(device=device, dtype=stored)
    qt_y = torch.from_numpy(np.stack([_table(f, 0) for f, _ in parsed])).to(device=device, dtype=stored)
    chroma = qt_c = None
    if layout != "gray":
        chroma = torch.from_numpy(np.stack([np.stack(g[1:]) for g in grids])).to(device=device, dtype=stored)
        qt_c = torch.from_numpy(np.stack([_table(f, 1) for f, _ in parsed])).to(device=device, dtype=stored)
    subsampling = "4:2:0" if layout == "gray" else layout
    batch_shape = () if single else (len(files),)
    return JPEGCoefficients(luma, chroma, qt_y, qt_c, subsampling, (height, width), batch_shape, dtype)  # type: ignore[arg-type]
