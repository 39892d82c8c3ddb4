"""The exact byte count of the baseline JPEG file libjpeg-turbo writes, from the quantized coefficients.

The file is the headers (their sizes depend only on the component count and on the Huffman tables)
and the entropy-coded scan, built here as libjpeg builds it but on tensors. The blocks are gathered
in coding order (MCU interleave, MCU-fill blocks, zigzag; DC as differences). The coded slots are
each block's DC, its non-zero AC coefficients and its position 63, which holds the EOB when it is
zero; each slot is one Huffman code with its extra bits, preceded by a ZRL per 16 zeros of the run
since the previous slot. The slots' bit offsets are a cumulative sum, the bits are packed into
32-bit words by a scatter, and the 0xFF bytes, each followed by a stuffed 0x00 byte, are counted.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from kornia_diffjpeg._checks import check_coefficients, entry_point
from kornia_diffjpeg.codec.options import Subsampling
from kornia_diffjpeg.codec.pipeline import JPEGCoefficients, jpeg_encode
from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS, ceil_div
from kornia_diffjpeg.filesize.codebook import (
    AC_SYMBOLS,
    DC_SYMBOLS,
    MAX_AC_SYMBOLS,
    canonical_codes,
    optimal_bits_and_values,
    standard_codes,
)
from kornia_diffjpeg.filesize.huffman import ZIGZAG

__all__ = ["jpeg_file_size", "header_size"]

_EOB, _ZRL = 0x00, 0xF0
_WORD = 32
# Byte sizes of the fixed segments: SOI + APP0 (JFIF) + EOI, one DQT (8-bit entries), a DHT without its values.
_FIXED, _DQT, _DHT_BASE = 2 + 18 + 2, 69, 21


def header_size(channels: int, dht_values: Tensor | int | None = None) -> Tensor | int:
    """Bytes of everything but the entropy-coded data, as libjpeg writes a baseline JFIF file.

    Args:
        channels: 1 (grayscale: one quantization and one pair of Huffman tables) or 3 (YCbCr: two each).
        dht_values: total number of symbols in the Huffman tables, per image; by default the standard
            tables' (12 per DC table, 162 per AC table).

    Example:
        >>> header_size(3), header_size(1)
        (625, 330)
    """
    tables = 1 if channels == 1 else 2
    if dht_values is None:
        dht_values = tables * (DC_SYMBOLS + MAX_AC_SYMBOLS)
    sof, sos = 10 + 3 * channels, 8 + 2 * channels
    return _FIXED + tables * _DQT + sof + 2 * tables * _DHT_BASE + sos + dht_values


@functools.lru_cache(maxsize=64)
def _scan_layout(
    image_size: tuple[int, int], subsampling: Subsampling, channels: int, device: torch.device
) -> tuple[Tensor, ...]:
    """Coding order of the blocks, as index tensors (cached per size, layout and device).

    Returns:
        source: (N * 64,) for each coded block and zigzag position, the flat index of its coefficient in
            the luma blocks, then the Cb and Cr blocks (all row-major), then one zero block for MCU fill.
        table: (N,) Huffman table of each coded block (0 luma, 1 chroma).
        real: (N,) False for MCU-fill blocks (luma blocks beyond the image's block grid).
        previous: (N,) position of the previous real block of the same component (its DC is the
            predictor), or -1 for the first block of a component (predictor 0).
    """
    height, width = image_size
    luma_rows, luma_cols = ceil_div(height, 8), ceil_div(width, 8)
    luma_index = np.arange(luma_rows * luma_cols).reshape(luma_rows, luma_cols)
    if channels == 1:  # a single-component scan codes only the component's own blocks, row by row
        source = luma_index.reshape(-1)
        component = np.zeros(source.size, np.int64)
        fill = -1  # none
    else:
        factor_w, factor_h = SUBSAMPLING_FACTORS[subsampling]
        rows, cols = ceil_div(height, 8 * factor_h), ceil_div(width, 8 * factor_w)
        fill = luma_index.size + 2 * rows * cols  # the zero block
        luma = np.full((rows * factor_h, cols * factor_w), fill)
        luma[:luma_rows, :luma_cols] = luma_index
        luma = luma.reshape(rows, factor_h, cols, factor_w).transpose(0, 2, 1, 3).reshape(rows, cols, -1)
        chroma = luma_index.size + np.arange(2 * rows * cols).reshape(2, rows, cols).transpose(1, 2, 0)
        source = np.concatenate([luma, chroma], axis=2).reshape(-1)
        mcu = factor_h * factor_w + 2
        component = np.tile(np.r_[np.zeros(mcu - 2, np.int64), 1, 2], rows * cols)
    real = source != fill
    positions = np.arange(component.size)
    previous = np.full(component.size, -1)
    for k in range(3):  # the previous real block of component k: a running maximum of its real positions
        mine = component == k
        seen = np.maximum.accumulate(np.where(mine & real, positions, -1))
        previous[mine] = np.r_[-1, seen[:-1]][mine]
    source = (source[:, None] * 64 + np.array(ZIGZAG)).reshape(-1)
    arrays = (source, np.minimum(component, 1), real, previous)
    return tuple(torch.from_numpy(a).to(device) for a in arrays)


def _coded_blocks(coefficients: JPEGCoefficients) -> tuple[Tensor, Tensor]:
    """The blocks in coding order, (B, N, 64) int32 in zigzag order with DC differences at 0, and each
    block's Huffman table (N,). Coefficients are rounded to the nearest integers."""
    luma, chroma = coefficients.luma.detach(), coefficients.chroma
    batch, device = luma.shape[0], luma.device
    source, table, real, previous = _scan_layout(
        coefficients.image_size, coefficients.subsampling, coefficients.channels, device
    )
    parts = [luma.reshape(batch, -1)]
    if chroma is not None:
        parts += [chroma.detach().reshape(batch, -1), luma.new_zeros(batch, 64)]
    blocks = torch.cat(parts, 1).index_select(1, source).round_().int().reshape(batch, -1, 64)
    dc = blocks[..., 0]
    predictor = F.pad(dc, (1, 0)).index_select(1, previous + 1)
    # MCU-fill blocks repeat the previous block's DC (a difference of 0) and have no AC coefficients.
    blocks[..., 0] = torch.where(real, dc - predictor, 0)
    return blocks, table


def _slot_symbols(value: Tensor, position: Tensor) -> tuple[Tensor, ...]:
    """Symbol, extra-bit count, extra bits and preceding ZRL count of each coded slot.

    The slots are each block's DC difference, its non-zero AC coefficients and its last position
    (63), in coding order; a zero at 63 is the EOB (then the last non-zero comes earlier). Values
    beyond the baseline ranges (|DC difference| > 2047, |AC| > 1023, only possible for coefficients
    not from an 8-bit encoder) are clamped to them.
    """
    limit = torch.where(position == 0, 2047, 1023)
    value = torch.maximum(torch.minimum(value, limit), -limit)
    size = torch.frexp(value.float()).exponent.long()  # bits of |v|, 0 for 0: EOB has no extra bits
    extra = torch.where(value < 0, value + (1 << size) - 1, value)
    # Zeros since the previous slot, always of the same block (each block starts with its DC slot).
    run = position - F.pad(position[:-1], (1, 0)) - 1
    coefficient = (position != 0) & (value != 0)
    ac_symbol = torch.where(coefficient, ((run & 15) << 4) | size, _EOB)
    zrl = torch.where(coefficient, run >> 4, 0)
    return torch.where(position == 0, size, ac_symbol), size, extra, zrl


def _codebooks(counts: Tensor | None, tables: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Flat codebooks, codes and lengths (T * 12 DC entries, then T * 256 AC entries) per image (B, .)
    or shared (1, .), and the number of DHT values per image.

    Args:
        counts: per-image symbol counts (B, T * (12 + 256)) for optimal tables, or None for the standard ones.
    """
    if counts is None:
        books = [
            torch.cat([t[:tables].reshape(-1) for t in pair])
            for pair in zip(*map(lambda kind: standard_codes(kind, device), ("dc", "ac")), strict=True)
        ]
        return books[0][None], books[1][None], torch.tensor(tables * (DC_SYMBOLS + MAX_AC_SYMBOLS), device=device)
    batch = counts.shape[0]
    codes, lengths, values = [], [], 0
    dc_counts, ac_counts = counts.split([tables * DC_SYMBOLS, tables * AC_SYMBOLS], 1)
    for part, symbols in ((dc_counts, DC_SYMBOLS), (ac_counts, AC_SYMBOLS)):
        bits, order = optimal_bits_and_values(part.reshape(batch * tables, symbols))
        code, length = canonical_codes(bits, order, symbols)
        codes.append(code.reshape(batch, -1))
        lengths.append(length.reshape(batch, -1))
        values = values + bits.reshape(batch, -1).sum(1)
    return torch.cat(codes, 1), torch.cat(lengths, 1), values


def _scan_bytes(coefficients: JPEGCoefficients, optimize: bool) -> tuple[Tensor, Tensor]:
    """Bytes of the entropy-coded scan (with stuffing) and the DHT value counts, both (B,).

    Only the slots that hold a symbol are packed (two host syncs: their count and the ZRLs' count).
    """
    blocks, table = _coded_blocks(coefficients)
    batch, blocks_per_image, device = blocks.shape[0], blocks.shape[1], blocks.device
    tables = 1 if coefficients.chroma is None else 2
    coded = blocks != 0
    coded[..., 0] = coded[..., 63] = True  # DC and the last position (its coefficient, or the EOB)
    slot = coded.reshape(-1).nonzero().squeeze(1)  # image-major, then coding order
    block, position = slot >> 6, slot & 63
    per_image = coded.reshape(batch, -1).sum(1)
    image = torch.arange(batch, device=device).repeat_interleave(per_image, output_size=slot.shape[0])
    table = table[block - image * blocks_per_image]
    symbol, size, extra, zrl = _slot_symbols(blocks.reshape(-1)[slot].long(), position)
    book_size = tables * (DC_SYMBOLS + AC_SYMBOLS)
    ac_base = tables * DC_SYMBOLS + table * AC_SYMBOLS  # the block's AC table in the flat codebook
    index = torch.where(position != 0, ac_base, table * DC_SYMBOLS) + symbol
    zrl_index = ac_base + _ZRL
    counts = None
    if optimize:
        image_base = image * book_size
        counts = torch.zeros(batch * book_size, dtype=torch.int64, device=device)
        counts.index_add_(0, image_base + index, torch.ones_like(index)).index_add_(0, image_base + zrl_index, zrl)
        index, zrl_index = image_base + index, image_base + zrl_index
        counts = counts.reshape(batch, book_size)
    codes, lengths, values = _codebooks(counts, tables, device)
    codes, lengths = codes.reshape(-1), lengths.reshape(-1)
    length = lengths[index] + size
    zrl_length = torch.where(zrl > 0, lengths[zrl_index], 0)
    span = zrl * zrl_length + length
    end = span.cumsum(0)
    start = end - span  # in the images' bit strings one after the other
    bits = torch.diff(F.pad(end, (1, 0))[per_image.cumsum(0)], prepend=end.new_zeros(1))
    strings = [((codes[index] << size) | extra, length, start + zrl * zrl_length, image)]
    with_zrl = (zrl > 0).nonzero().squeeze(1)
    for k in range(3):  # up to three ZRLs (16 zeros each) before a coefficient
        i = with_zrl
        present = k < zrl[i]  # absent strings are empty: no length, no bits
        strings.append(
            (
                torch.where(present, codes[zrl_index[i]], 0),
                torch.where(present, zrl_length[i], 0),
                start[i] + k * zrl_length[i],
                image[i],
            )
        )
    value, length, start, image = (torch.cat(parts) for parts in zip(*strings, strict=True))
    return _stuffed_bytes(value, length, start, image, bits), values.expand(batch)


def _stuffed_bytes(value: Tensor, length: Tensor, start: Tensor, image: Tensor, bits: Tensor) -> Tensor:
    """Bytes of each image's bit string, with the last byte padded with 1 bits and a stuffed 0x00
    after every 0xFF byte.

    Args:
        value: (K,) bit strings of ``length`` (K,) <= 32 bits each, at bit ``start`` (K,) of the
            images' streams one after the other.
        image: (K,) the image of each string.
        bits: (B,) each image's stream length in bits.
    """
    device, batch = value.device, bits.shape[0]
    padding = (-bits) % 8
    # Each image starts on a word, so that its 0xFF bytes are counted over its own words.
    image_words = (bits + padding + _WORD - 1) // _WORD
    image_start = (image_words.cumsum(0) - image_words) * _WORD
    start = start - (bits.cumsum(0) - bits)[image] + image_start[image]
    # The padding ones are one more string per image.
    value = torch.cat([value, (1 << padding) - 1])
    length = torch.cat([length, padding])
    start = torch.cat([start, image_start + bits])
    word, offset = start >> 5, start & (_WORD - 1)
    tail = offset + length  # bit just past the string, counted from its first word's start
    fits = tail <= _WORD
    first = torch.where(fits, value << (_WORD - tail).clamp(min=0), value >> (tail - _WORD).clamp(min=0))
    second = torch.where(fits, 0, (value << (2 * _WORD - tail).clamp(max=_WORD)) & 0xFFFFFFFF)
    words = torch.zeros(value.shape[0] + batch + 1, dtype=torch.int64, device=device)  # >= all images' words
    words.index_add_(0, word, first).index_add_(0, word + 1, second)
    # The words hold 32 bits in 64: their bytes, in either byte order, are the stream's and 4 zeros.
    ff = F.pad(torch.count_nonzero(words.view(torch.uint8).view(-1, 8) == 0xFF, dim=1).cumsum(0), (1, 0))
    first_word = image_start // _WORD
    stuffed = ff[first_word + image_words] - ff[first_word]
    return (bits + padding) // 8 + stuffed


@entry_point  # jpeg_encode checks the values, once per call
def jpeg_file_size(
    image: Tensor | JPEGCoefficients,
    quality: float | Tensor | None = None,
    *,
    qt_y: Tensor | None = None,
    qt_c: Tensor | None = None,
    subsampling: Subsampling = "4:2:0",
    optimize: bool = False,
) -> Tensor:
    """The exact byte length of the baseline JPEG file OpenCV and Pillow write, without an encoder.

    The images are coded with :func:`~kornia_diffjpeg.jpeg_encode` in ``mode="exact"`` and the file
    is sized from the coefficients on their device: the JFIF headers, and the Huffman-coded scan with
    its byte stuffing and final padding, as libjpeg-turbo writes them. The result equals
    ``len(cv2.imencode(".jpg", ...)[1])`` and the length of Pillow's ``save(format="JPEG")`` output for
    the same settings (``quality`` or ``qtables``, ``subsampling``, ``optimize``), for the 8-bit image
    ``round(255 * image)``. No gradient flows; see ``diff_jpeg_file_size`` for a differentiable estimate.
    Vectorized over images and blocks, with two host syncs (the number of coded symbols and of ZRLs;
    ``optimize`` adds a few), so it is not meant for ``torch.compile(fullgraph=True)``.

    Args:
        image: float images in [0, 1], (B, C, H, W) or (C, H, W), C = 1 or 3, or the
            :class:`~kornia_diffjpeg.JPEGCoefficients` of an earlier :func:`~kornia_diffjpeg.jpeg_encode`
            (any mode; coefficients are rounded to integers). With coefficients, ``quality``,
            ``qt_y`` and ``qt_c`` must be None and ``subsampling`` is taken from them.
        quality: JPEG quality in [0, 100] (rounded to an integer; 0 is coded as 1, as libjpeg does),
            a number or per-sample (B,).
        qt_y: luma quantization table (8, 8) or (B, 8, 8) in [1, 255], as in ``jpeg_encode``.
        qt_c: chroma quantization table, as ``qt_y``.
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"`` (ignored for grayscale).
        optimize: size the file with libjpeg's optimal Huffman tables for each image (Pillow's
            ``optimize=True``, OpenCV's ``IMWRITE_JPEG_OPTIMIZE``) instead of the standard tables.

    Returns:
        File sizes in bytes, int64 on the input's device, of the images' leading shape: (B,) for
        (B, C, H, W) input, 0-d for (C, H, W).

    Example:
        >>> image = torch.rand(2, 3, 40, 52)
        >>> jpeg_file_size(image, 75.0).shape
        torch.Size([2])
        >>> int(jpeg_file_size(torch.zeros(1, 8, 8), 50.0))  # 330 header bytes, 2 bytes of data
        332
    """
    if not isinstance(optimize, bool):
        raise TypeError(f"optimize must be a bool, got {type(optimize).__name__}")
    if isinstance(image, JPEGCoefficients):
        given = [name for name, v in (("quality", quality), ("qt_y", qt_y), ("qt_c", qt_c)) if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} must be None when image is JPEGCoefficients (they are coded already)")
        check_coefficients(image, name="image", exact=True)
        coefficients = image
    else:
        with torch.no_grad():
            coefficients = jpeg_encode(image, quality, qt_y=qt_y, qt_c=qt_c, mode="exact", subsampling=subsampling)
    if coefficients.luma.shape[0] == 0:  # no image: no file
        return torch.zeros(coefficients.batch_shape or (0,), dtype=torch.int64, device=coefficients.luma.device)
    scan, dht_values = _scan_bytes(coefficients, optimize)
    sizes = header_size(coefficients.channels, dht_values) + scan
    return sizes.reshape(coefficients.batch_shape)
