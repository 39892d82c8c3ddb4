"""The entropy-coded scan of a baseline JPEG file, as libjpeg-turbo writes it, built on tensors.

One coder serves both the file writer (:func:`~kornia_diffjpeg.encode_jpeg`) and the exact file
size (:func:`~kornia_diffjpeg.jpeg_file_size`): the size is the length of the same bitstream,
counted without materializing its bytes.

How the scan is built, with no loop over images or blocks:

1. The blocks are put in coding order (MCU interleave, MCU-fill blocks, zigzag) by reshapes and
   one copy, the DC coefficients replaced by their differences to the previous block of the same
   component.
2. The coded *slots* are each block's DC, its non-zero AC coefficients and its position 63 (which
   holds the EOB when zero): one ``nonzero`` over the blocks. A slot's bit string is the ZRL codes
   for its run of zeros, its Huffman code and its extra bits. Everything but the extra bits depends
   only on (table, distance to the previous slot, size category), so a 4096-entry table per codebook
   gives the string's prefix and length by one lookup; the size and the extra bits of a value are
   one more lookup each.
3. The bit offsets are a cumulative sum; the strings are added into 64-bit words (they never
   overlap, so adding is OR-ing); the words, read big-endian, are the bytes; every 0xFF byte is
   followed by a stuffed 0x00 (a cumulative count of the 0xFF bytes gives the shifts).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from kornia_diffjpeg.codec.pipeline import JPEGCoefficients
from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS
from kornia_diffjpeg.codec.surrogates import round_half_away
from kornia_diffjpeg.filesize.codebook import (
    AC_SYMBOLS,
    DC_SYMBOLS,
    canonical_codes,
    optimal_bits_and_values,
    standard_codes,
)
from kornia_diffjpeg.filesize.huffman import STANDARD_HUFFMAN, ZIGZAG

__all__ = ["HuffmanTables", "ScanBytes", "check_codable", "coded_blocks", "scan_bytes", "scan_sizes"]

_EOB, _ZRL = 0x00, 0xF0
#: Largest magnitudes a baseline scan codes: DC differences (size 11) and AC coefficients (size 10).
_DC_LIMIT, _AC_LIMIT = 2047, 1023
#: Largest magnitude of a coefficient (libjpeg's 16-bit JCOEF): a DC value, whose differences are coded.
_COEFFICIENT_LIMIT = 32767
#: Prefix table layout: index = table * _TABLE_STRIDE + (distance + 64) * 16 + size.
_TABLE_STRIDE = 128 * 16


@dataclass
class HuffmanTables:
    """The Huffman tables of a scan as DHT segments hold them, per image.

    Attributes:
        bits: (B, 2T, 16) number of codes of each length, tables in DHT order (DC 0, AC 0, DC 1, AC 1).
        values: (B, 2T, 256) symbols in code order; the first ``bits.sum(-1)`` are used.
    """

    bits: Tensor
    values: Tensor


@dataclass
class ScanBytes:
    """Entropy-coded data of a batch of images.

    Attributes:
        data: (S,) uint8, the images' stuffed scans one after the other (None when only sized).
        lengths: (B,) int64 bytes of each image's stuffed scan.
        tables: the Huffman tables used.
    """

    data: Tensor | None
    lengths: Tensor
    tables: HuffmanTables


# --- coding order -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _block_layout(
    image_size: tuple[int, int], subsampling: str, channels: int, device: torch.device
) -> tuple[Tensor, Tensor]:
    """For each coded block of one image: whether it is a real block (not MCU fill), and the position
    of the previous real block of its component (-1 for the first: predictor 0)."""
    height, width = image_size
    if channels == 1:
        count = -(-height // 8) * -(-width // 8)
        real = np.ones(count, bool)
        component = np.zeros(count, np.int64)
    else:
        factor_w, factor_h = SUBSAMPLING_FACTORS[subsampling]
        rows, cols = -(-height // (8 * factor_h)), -(-width // (8 * factor_w))
        luma = np.zeros((rows * factor_h, cols * factor_w), bool)
        luma[: -(-height // 8), : -(-width // 8)] = True
        luma = luma.reshape(rows, factor_h, cols, factor_w).transpose(0, 2, 1, 3).reshape(rows, cols, -1)
        real = np.concatenate([luma, np.ones((rows, cols, 2), bool)], axis=2).reshape(-1)
        mcu = factor_h * factor_w + 2
        component = np.tile(np.r_[np.zeros(mcu - 2, np.int64), 1, 2], rows * cols)
    positions = np.arange(component.size)
    previous = np.full(component.size, -1)
    for k in range(3):  # a running maximum of the real positions of component k
        mine = component == k
        seen = np.maximum.accumulate(np.where(mine & real, positions, -1))
        previous[mine] = np.r_[-1, seen[:-1]][mine]
    return torch.from_numpy(real).to(device), torch.from_numpy(previous).to(device)


@functools.lru_cache(maxsize=16)
def _coefficient_limits(device: torch.device) -> tuple[Tensor, Tensor]:
    """Zigzag order (64,) and the largest codable magnitude at each natural position (64,)."""
    limits = torch.full((64,), float(_AC_LIMIT))
    limits[0] = _COEFFICIENT_LIMIT  # the DC's difference is what is limited to _DC_LIMIT
    return torch.tensor(ZIGZAG, device=device), limits.to(device)


def _integer_blocks(blocks: Tensor, limits: Tensor, clamp: bool = True) -> Tensor:
    """Blocks rounded to integers (halves away from zero, as the exact decoder rounds them) and clamped to
    the codable range, as int16 (natural order); without ``clamp``, int32 blocks as they are (rounded)."""
    if not clamp:
        return (round_half_away(blocks) if blocks.is_floating_point() else blocks).to(torch.int32)
    if blocks.is_floating_point():
        return round_half_away(blocks).clamp_(-limits, limits).to(torch.int16)
    limits = limits.to(blocks.dtype)
    return blocks.clamp(-limits, limits).to(torch.int16)


def coded_blocks(coefficients: JPEGCoefficients, clamp: bool = True) -> tuple[Tensor, int, int]:
    """The blocks in coding order, (B, N, 64) int16 in zigzag order with DC differences at 0.

    Coefficients are rounded to the nearest integers and clamped to what a baseline scan codes
    (without ``clamp``: int32, as they are, to check them).

    Returns:
        The blocks, the number of blocks per MCU (1 for a single-component scan) and how many of
        them are luma.
    """
    c = coefficients
    zigzag, limits = _coefficient_limits(c.luma.device)
    luma = _integer_blocks(c.luma.detach(), limits, clamp)
    batch = luma.shape[0]
    if c.chroma is None:
        blocks, mcu, luma_blocks = luma.reshape(batch, -1, 64), 1, 1
    else:
        factor_w, factor_h = SUBSAMPLING_FACTORS[c.subsampling]
        rows, cols = c.chroma.shape[2], c.chroma.shape[3]
        fill_rows, fill_cols = rows * factor_h - luma.shape[2], cols * factor_w - luma.shape[3]
        luma = F.pad(luma[:, 0], (0, 0, 0, fill_cols, 0, fill_rows)) if fill_rows or fill_cols else luma[:, 0]
        luma = luma.reshape(batch, rows, factor_h, cols, factor_w, 64).transpose(2, 3)
        luma = luma.reshape(batch, rows, cols, factor_h * factor_w, 64)
        chroma = _integer_blocks(c.chroma.detach(), limits, clamp).permute(0, 2, 3, 1, 4)
        luma_blocks = factor_h * factor_w
        blocks, mcu = torch.cat([luma, chroma], dim=3).reshape(batch, -1, 64), luma_blocks + 2
    blocks = blocks.gather(2, zigzag.expand_as(blocks))  # faster than index_select on the last dim
    real, previous = _block_layout(c.image_size, c.subsampling, c.channels, blocks.device)
    dc = blocks[..., 0].int()
    predictor = F.pad(dc, (1, 0)).index_select(1, previous + 1)
    # MCU-fill blocks repeat the previous block's DC (a difference of 0) and have no AC coefficients.
    difference = torch.where(real, dc - predictor, 0)
    blocks[..., 0] = difference.clamp_(-_DC_LIMIT, _DC_LIMIT).to(torch.int16) if clamp else difference
    return blocks, mcu, luma_blocks


def check_codable(coefficients: JPEGCoefficients, name: str) -> None:
    """Raise a ValueError if a coefficient is past what a baseline scan codes, as libjpeg does ("DCT
    coefficient out of range"): AC coefficients beyond 1023, differences of consecutive DC beyond 2047.
    One pass over the blocks and one host sync."""
    if coefficients.luma.shape[0] == 0:  # no image
        return
    blocks, _, _ = coded_blocks(coefficients, clamp=False)
    dc, ac = torch.stack([blocks[..., 0].abs().amax(), blocks[..., 1:].abs().amax()]).tolist()
    if ac > _AC_LIMIT:
        raise ValueError(
            f"{name} AC coefficients must lie in [-{_AC_LIMIT}, {_AC_LIMIT}] to be coded (baseline JPEG), "
            f"got magnitude {ac}"
        )
    if dc > _DC_LIMIT:
        raise ValueError(
            f"{name} DC coefficients must differ by at most {_DC_LIMIT} from the previous block's (in coding "
            f"order) to be coded (baseline JPEG), got a difference of {dc}"
        )


def _flat_nonzero(mask: Tensor) -> Tensor:
    """Indices of the True entries of a flattened mask, in order (NumPy's is far faster on the CPU)."""
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return mask.reshape(-1).nonzero().squeeze(1)


# --- codebooks as slot tables -------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _value_tables(device: torch.device) -> tuple[Tensor, Tensor]:
    """Size category and extra bits of every value v in [-2047, 2047], indexed by v + 2047."""
    value = torch.arange(-_DC_LIMIT, _DC_LIMIT + 1)
    size = torch.frexp(value.double()).exponent.long()  # bits of |v|, 0 for 0
    extra = torch.where(value < 0, value + (1 << size) - 1, value)
    return size.to(device), extra.to(device)


@functools.lru_cache(maxsize=1)
def _slot_symbols() -> tuple[Tensor, Tensor, Tensor]:
    """For each entry of a one-table prefix table (distance + 64, size): the codebook column of its
    symbol (DC columns 0..11, AC columns 12..267; -1 for impossible entries) and its ZRL count."""
    offset = torch.arange(128).view(128, 1)  # distance + 64
    size = torch.arange(16).view(1, 16)
    run = offset - 65  # zeros before an AC slot (distance - 1)
    ac = (offset >= 65) & (size <= 10)
    dc = (offset == 1) & (size <= 11)
    zrl = torch.where(ac & (size > 0), run >> 4, 0)
    ac_symbol = torch.where(size > 0, ((run & 15) << 4) | size, _EOB)
    column = torch.where(dc, size, torch.where(ac, DC_SYMBOLS + ac_symbol, -1))
    return column.reshape(-1), zrl.reshape(-1), (column >= 0).reshape(-1)


def _prefix_tables(codes: Tensor, lengths: Tensor, split: bool) -> tuple[Tensor, ...]:
    """Per-codebook prefix tables: the ZRL codes and the symbol's code of each (table, distance, size).

    Args:
        codes, lengths: (K, T, 12 + 256) codes and lengths of K codebooks of T tables (DC then AC columns).
        split: return the ZRL part and the code apart (when together they may exceed 64 bits).

    Returns:
        prefix strings and lengths, each (K, T * 2048); with ``split``, also the ZRL strings and lengths.
    """
    column, zrl, valid = (t.to(codes.device) for t in _slot_symbols())
    safe = column.clamp(min=0)
    code, length = codes[..., safe], torch.where(valid, lengths[..., safe], 0)
    zrl_code = codes[..., DC_SYMBOLS + _ZRL : DC_SYMBOLS + _ZRL + 1]
    zrl_length = lengths[..., DC_SYMBOLS + _ZRL : DC_SYMBOLS + _ZRL + 1]
    # zrl repetitions of a code of L bits: code * (1 + 2**L + 2**(2L) + ...).
    repeat = ((1 << (zrl * zrl_length)) - 1) // ((1 << zrl_length) - 1).clamp(min=1)
    zrl_string, zrl_bits = zrl_code * repeat, zrl * zrl_length
    shape = (*codes.shape[:-2], -1)
    if split:
        return tuple(t.reshape(shape) for t in (code, length, zrl_string, zrl_bits))
    return (zrl_string << length | code).reshape(shape), (zrl_bits + length).reshape(shape)


@functools.lru_cache(maxsize=16)
def _standard_prefix_tables(tables: int, device: torch.device) -> tuple[Tensor, Tensor]:
    dc_codes, dc_lengths = standard_codes("dc", torch.device("cpu"))
    ac_codes, ac_lengths = standard_codes("ac", torch.device("cpu"))
    codes = torch.cat([dc_codes, ac_codes], 1)[:tables]
    lengths = torch.cat([dc_lengths, ac_lengths], 1)[:tables]
    prefix, length = _prefix_tables(codes, lengths, split=False)
    return prefix.reshape(-1).to(device), length.reshape(-1).to(device)


@functools.lru_cache(maxsize=4)
def _standard_dht(tables: int, device: torch.device) -> HuffmanTables:
    bits, values = [], []
    for component in ("luma", "chroma")[:tables]:
        for kind in ("dc", "ac"):
            counts, hexvalues = STANDARD_HUFFMAN[f"{kind}_{component}"]
            bits.append(list(counts))
            symbols = list(bytes.fromhex(hexvalues))
            values.append(symbols + [0] * (256 - len(symbols)))
    return HuffmanTables(torch.tensor(bits, device=device)[None], torch.tensor(values, device=device)[None])


def _optimal_codebooks(counts: Tensor, tables: int) -> tuple[Tensor, Tensor, HuffmanTables]:
    """libjpeg's optimal tables from per-image symbol counts (B, T, 268): codes, lengths, DHT tables."""
    batch = counts.shape[0]
    flat = counts.reshape(batch * tables, DC_SYMBOLS + AC_SYMBOLS)
    codes, lengths, bits, values = [], [], [], []
    for part, symbols in ((flat[:, :DC_SYMBOLS], DC_SYMBOLS), (flat[:, DC_SYMBOLS:], AC_SYMBOLS)):
        table_bits, order = optimal_bits_and_values(part)
        code, length = canonical_codes(table_bits, order, symbols)
        codes.append(code)
        lengths.append(length)
        bits.append(table_bits.reshape(batch, tables, 16))
        values.append(F.pad(order, (0, 256 - symbols)).reshape(batch, tables, 256))
    dht = HuffmanTables(
        torch.stack(bits, 2).reshape(batch, 2 * tables, 16), torch.stack(values, 2).reshape(batch, -1, 256)
    )
    shape = (batch, tables, -1)
    return torch.cat(codes, 1).reshape(shape), torch.cat(lengths, 1).reshape(shape), dht


# --- slots and bits -----------------------------------------------------------------------------


def _slots(coefficients: JPEGCoefficients, scale: int) -> tuple[Tensor, Tensor, Tensor]:
    """The coded slots of all images, image-major in coding order.

    Args:
        scale: stride of the slot rows in the table the keys index (16 or 4096).

    Returns:
        key: (K,) ``scale * row`` of each slot, row = table * 128 + distance to the previous slot + 64
            (the distance is run + 1 for an AC slot, -63 for a DC slot, after the previous block's 63).
        value: (K,) int16 the slot's value (DC difference, AC coefficient, or 0 for the EOB).
        image_slots: (B,) slots per image.
    """
    blocks, mcu, luma_blocks = coded_blocks(coefficients)
    batch, coefficients_per_image = blocks.shape[0], blocks.shape[1] * 64
    coded = blocks != 0
    coded[..., 0] = True  # the DC, and the last position: its coefficient or the EOB
    coded[..., 63] = True
    slot = _flat_nonzero(coded)
    image_start = torch.arange(1, batch + 1, device=slot.device) * coefficients_per_image
    image_slots = torch.diff(torch.searchsorted(slot, image_start), prepend=image_start.new_zeros(1))
    value = blocks.reshape(-1).index_select(0, slot)
    # The slot's place in its MCU gives its table (0 luma, 1 chroma) and zigzag position.
    in_mcu = slot & 63 if mcu == 1 else slot % (64 * mcu)
    row, position = _mcu_rows(mcu, luma_blocks, scale, slot.device)
    position = position.index_select(0, in_mcu)
    key = row.index_select(0, in_mcu)
    key[1:] -= position[:-1]
    key[0] -= 63 * scale
    return key, value, image_slots


@functools.lru_cache(maxsize=16)
def _mcu_rows(mcu: int, luma_blocks: int, scale: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """For each coefficient of an MCU: ``scale * (table * 128 + 64 + position) + offset`` (offset 2047
    for the 4096-column tables, whose columns are values + 2047) and ``scale * position``."""
    position = torch.arange(64).repeat(mcu)
    table = (torch.arange(64 * mcu) >= 64 * luma_blocks).long()
    offset = _DC_LIMIT if scale == 4096 else 0
    return ((table * 128 + 64 + position) * scale + offset).to(device), (position * scale).to(device)


@functools.lru_cache(maxsize=8)
def _standard_slot_tables(tables: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Whole bit strings and lengths of every (table, distance, value) with the standard codes.

    Indexed by ``4096 * row + value + 2047`` (rows as in :func:`_slots`): 1M entries, so that a
    slot's string is one lookup. A string is at most 3 ZRLs (11 bits each), a 16-bit code and 10
    extra bits: 59 bits.
    """
    prefix, prefix_length = _standard_prefix_tables(tables, torch.device("cpu"))
    size, extra = _value_tables(torch.device("cpu"))
    size, extra = F.pad(size, (0, 1)), F.pad(extra, (0, 1))  # 4096 columns
    prefix = prefix.view(tables * 128, 1, 16).expand(-1, 4096, -1).gather(2, size.expand(tables * 128, -1)[..., None])
    prefix_length = prefix_length.view(tables * 128, 16)[:, size]
    strings = (prefix.squeeze(2) << size) | extra
    return strings.reshape(-1).to(device), (prefix_length + size).reshape(-1).to(device)


def _symbol_counts(key: Tensor, image: Tensor, tables: int, batch: int) -> Tensor:
    """Per-image symbol counts (B, T, 268) of the slots (ZRLs included)."""
    entries = batch * tables * _TABLE_STRIDE
    per_entry = torch.bincount(image * (tables * _TABLE_STRIDE) + key, minlength=entries)
    per_entry = per_entry.reshape(batch * tables, _TABLE_STRIDE)
    column, zrl, valid = (t.to(key.device) for t in _slot_symbols())
    counts = torch.zeros(batch * tables, DC_SYMBOLS + AC_SYMBOLS + 1, dtype=torch.int64, device=key.device)
    counts.index_add_(1, torch.where(valid, column, DC_SYMBOLS + AC_SYMBOLS), per_entry)
    counts[:, DC_SYMBOLS + _ZRL] += (per_entry * zrl).sum(1)
    return counts[:, :-1].reshape(batch, tables, -1)


def _pack(strings: list[tuple[Tensor, Tensor]], image_slots: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Pack each slot's bit strings (placed one after another) into the images' byte streams.

    Each image's stream is padded with 1 bits to a whole byte, and the images' streams follow one
    another byte-aligned, with no stuffing yet.

    Returns:
        bytes (M,) uint8 of all images, each image's first byte (B,) and its byte count (B,).
    """
    total = strings[0][1] if len(strings) == 1 else torch.stack([length for _, length in strings]).sum(0)
    total[0] -= 1  # so that the cumulative sum is each slot's last bit
    last_bit = total.cumsum(0)
    last = image_slots.cumsum(0) - 1
    image_bits = torch.diff(last_bit[last] + 1, prepend=last_bit.new_zeros(1))
    padding = (-image_bits) & 7
    if len(last) > 1:  # byte-align the next image: leading zeros of its first slot (a DC, one string)
        total.index_add_(0, last[:-1] + 1, padding[:-1])
        last_bit = total.cumsum(0)
    image_bytes = (image_bits + padding) >> 3
    # Word 0 is a spare that takes the heads of strings starting before the first word.
    words = torch.zeros(int(last_bit[-1]) // 64 + 3, dtype=torch.int64, device=last_bit.device)
    for value, length in reversed(strings):
        # A string ends in word ``word`` (of words[1:]) at bit ``low`` of it (0..63); the rest of it,
        # if any, is the end of the word before (strings never overlap: adding is OR-ing).
        word, low = last_bit >> 6, last_bit & 63
        if len(strings) > 1:  # an empty ZRL string may end before bit 0
            word.clamp_(min=0)
        words[1:].index_add_(0, word, value << (low ^ 63))
        words[:-1].index_add_(0, word, (value >> low) >> 1)
        if len(strings) > 1:
            last_bit = last_bit - length
    words = words[1:]
    data = words.view(torch.uint8).reshape(-1, 8)
    data = (data.flip(1) if sys.byteorder == "little" else data).reshape(-1)
    first_byte = torch.cumsum(image_bytes, 0) - image_bytes
    # The padding ones end each image's last byte.
    data[first_byte + image_bytes - 1] |= ((1 << padding) - 1).to(torch.uint8)
    return data[: int(first_byte[-1] + image_bytes[-1])], first_byte, image_bytes


def _scan(coefficients: JPEGCoefficients, optimize: bool) -> tuple[Tensor, Tensor, Tensor, HuffmanTables]:
    tables, device = coefficients.channels // 3 + 1, coefficients.luma.device
    if not optimize:
        key, value, image_slots = _slots(coefficients, 4096)
        string_table, length_table = _standard_slot_tables(tables, device)
        key += value
        strings = [(string_table.index_select(0, key), length_table.index_select(0, key))]
        data, first_byte, image_bytes = _pack(strings, image_slots)
        return data, first_byte, image_bytes, _standard_dht(tables, device)
    key, value, image_slots = _slots(coefficients, 16)
    batch = image_slots.shape[0]
    size_table, extra_table = _value_tables(device)
    value_index = value.long() + _DC_LIMIT
    size, extra = size_table.index_select(0, value_index), extra_table.index_select(0, value_index)
    image = torch.arange(batch, device=device).repeat_interleave(image_slots, output_size=key.shape[0])
    key = key + size
    counts = _symbol_counts(key, image, tables, batch)
    codes, lengths, dht = _optimal_codebooks(counts, tables)
    # The ZRLs apart from the code: with rare (long) ZRL codes they may not fit 64 bits together.
    code, code_length, zrl, zrl_length = _prefix_tables(codes, lengths, split=True)
    key += image * (tables * _TABLE_STRIDE)
    strings = [
        (zrl.reshape(-1).index_select(0, key), zrl_length.reshape(-1).index_select(0, key)),
        ((code.reshape(-1).index_select(0, key) << size) | extra, code_length.reshape(-1).index_select(0, key) + size),
    ]
    data, first_byte, image_bytes = _pack(strings, image_slots)
    return data, first_byte, image_bytes, dht


#: Coefficients coded per step on the CPU: a large batch is coded in groups of whole images (every
#: image's scan is independent), so that each step's temporaries stay in the caches (faster passes)
#: and the peak memory is a group's.
CHUNK_COEFFICIENTS = 1 << 20
#: The same on other devices (GPUs), where each step costs kernel launches: groups only bound the memory.
DEVICE_CHUNK_COEFFICIENTS = 1 << 26


def _image_groups(coefficients: JPEGCoefficients) -> list[JPEGCoefficients]:
    """The coefficients in groups of whole images of about :data:`CHUNK_COEFFICIENTS` coefficients (on the CPU)."""
    c = coefficients
    batch = c.luma.shape[0]
    per_image = c.luma[0].numel() + (0 if c.chroma is None else c.chroma[0].numel())
    budget = CHUNK_COEFFICIENTS if c.luma.device.type == "cpu" else DEVICE_CHUNK_COEFFICIENTS
    group = max(1, budget // max(per_image, 1))
    if group >= batch:
        return [c]

    def part(tensor: Tensor | None, start: int) -> Tensor | None:
        if tensor is None or tensor.shape[0] != batch:
            return tensor
        return tensor[start : start + group]

    return [
        dataclasses.replace(
            c,
            luma=c.luma[start : start + group],
            chroma=part(c.chroma, start),
            qt_y=c.qt_y if c.qt_y.shape[0] != batch else c.qt_y[start : start + group],
            qt_c=part(c.qt_c, start),
            batch_shape=None,
        )
        for start in range(0, batch, group)
    ]


def _joined_tables(tables: list[HuffmanTables], optimize: bool) -> HuffmanTables:
    """The groups' Huffman tables: per image with ``optimize``, else the standard ones (shared)."""
    if not optimize:
        return tables[0]
    return HuffmanTables(torch.cat([t.bits for t in tables]), torch.cat([t.values for t in tables]))


def _stuffed_counts(ff: Tensor, first_byte: Tensor, image_bytes: Tensor) -> Tensor:
    """How many of the 0xFF bytes at the sorted positions ``ff`` lie in each image's bytes."""
    return torch.searchsorted(ff, first_byte + image_bytes) - torch.searchsorted(ff, first_byte)


def _group_sizes(coefficients: JPEGCoefficients, optimize: bool) -> tuple[Tensor, HuffmanTables]:
    data, first_byte, image_bytes, dht = _scan(coefficients, optimize)
    return image_bytes + _stuffed_counts(_flat_nonzero(data == 0xFF), first_byte, image_bytes), dht


def scan_sizes(coefficients: JPEGCoefficients, optimize: bool) -> tuple[Tensor, HuffmanTables]:
    """Bytes of each image's entropy-coded scan, stuffing included (B,), and the Huffman tables."""
    sizes, tables = zip(*(_group_sizes(group, optimize) for group in _image_groups(coefficients)), strict=True)
    return torch.cat(sizes), _joined_tables(list(tables), optimize)


def _group_bytes(coefficients: JPEGCoefficients, optimize: bool) -> ScanBytes:
    data, first_byte, image_bytes, dht = _scan(coefficients, optimize)
    ff = _flat_nonzero(data == 0xFF)  # few: about one byte in 200
    return ScanBytes(_stuffed(data, ff), image_bytes + _stuffed_counts(ff, first_byte, image_bytes), dht)


def _stuffed(data: Tensor, ff: Tensor) -> Tensor:
    """``data`` with a 0x00 byte after each 0xFF byte (at the sorted positions ``ff``)."""
    if data.device.type == "cpu":  # one pass that moves the bytes: a scatter of every byte is 8x slower here
        return torch.from_numpy(np.insert(data.numpy(), ff.numpy() + 1, 0))
    return _stuffed_by_scatter(data, ff)


def _stuffed_by_scatter(data: Tensor, ff: Tensor) -> Tensor:
    """:func:`_stuffed` by a scatter of every byte to its place (for devices without NumPy)."""
    follows = torch.zeros(data.shape[0], dtype=torch.int64, device=data.device)
    follows[ff] = 1  # the byte after an 0xFF byte moves one further
    stuffed = data.new_zeros(data.shape[0] + ff.shape[0])
    stuffed[torch.arange(data.shape[0], device=data.device) + follows.cumsum(0) - follows] = data
    return stuffed


def scan_bytes(coefficients: JPEGCoefficients, optimize: bool) -> ScanBytes:
    """The images' entropy-coded scans with a 0x00 stuffed after every 0xFF byte."""
    groups = [_group_bytes(group, optimize) for group in _image_groups(coefficients)]
    if len(groups) == 1:
        return groups[0]
    data = torch.cat([g.data for g in groups if g.data is not None])
    lengths = torch.cat([g.lengths for g in groups])
    return ScanBytes(data, lengths, _joined_tables([g.tables for g in groups], optimize))
