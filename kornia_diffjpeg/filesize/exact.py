"""The exact byte count of the baseline JPEG file libjpeg-turbo writes, from the quantized coefficients.

The file is the headers (their sizes depend only on the component count and on the Huffman tables)
and the entropy-coded scan. The scan is built here as libjpeg builds it, but on tensors: every
coefficient position of every block is one slot that holds at most one Huffman symbol with its extra
bits (the DC difference at position 0; at an AC position a (run, size) symbol, a ZRL on the 16th zero
of a run that a non-zero coefficient ends, or the EOB after the last non-zero coefficient). Slot bit
offsets are a cumulative sum, the bits are packed into 32-bit words by a scatter, and the 0xFF bytes,
each followed by a stuffed 0x00 byte, are counted.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from kornia_diffjpeg.codec.pipeline import JPEGCoefficients, jpeg_encode
from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS, ceil_div
from kornia_diffjpeg.codec.surrogates import round_half_away
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


@functools.cache
def _scan_layout(image_size: tuple[int, int], subsampling: str, channels: int) -> tuple[np.ndarray, ...]:
    """Coding order of the blocks, as static index arrays (cached per size and layout).

    Returns:
        table: (N,) Huffman table of each coded block (0 luma, 1 chroma).
        real: (N,) False for MCU-fill blocks (luma blocks beyond the image's block grid).
        previous: (N,) position of the previous real block of the same component (its DC is the
            predictor), or -1 for the first block of a component (predictor 0).
    """
    height, width = image_size
    if channels == 1:  # a single-component scan codes only the component's own blocks, row by row
        count = ceil_div(height, 8) * ceil_div(width, 8)
        component = np.zeros(count, np.int64)
        real = np.ones(count, bool)
    else:
        factor_w, factor_h = SUBSAMPLING_FACTORS[subsampling]
        rows, cols = ceil_div(height, 8 * factor_h), ceil_div(width, 8 * factor_w)
        block_row = np.arange(rows * factor_h).reshape(rows, factor_h, 1, 1)
        block_col = np.arange(cols * factor_w).reshape(1, 1, cols, factor_w)
        luma_real = (block_row < ceil_div(height, 8)) & (block_col < ceil_div(width, 8))
        luma_real = luma_real.transpose(0, 2, 1, 3).reshape(rows, cols, factor_h * factor_w)
        mcu = factor_h * factor_w + 2
        component = np.tile(np.r_[np.zeros(mcu - 2, np.int64), 1, 2], rows * cols)
        real = np.concatenate([luma_real, np.ones((rows, cols, 2), bool)], axis=2).reshape(-1)
    positions = np.arange(component.size)
    previous = np.full(component.size, -1)
    for k in range(3):  # the previous real block of component k: a running maximum of its real positions
        mine = component == k
        seen = np.maximum.accumulate(np.where(mine & real, positions, -1))
        previous[mine] = np.r_[-1, seen[:-1]][mine]
    return np.minimum(component, 1), real, previous


def _coded_blocks(coefficients: JPEGCoefficients) -> tuple[Tensor, ...]:
    """The blocks in coding order, (B, N, 64) int64 in zigzag order with DC differences at 0, and the layout."""
    luma = round_half_away(coefficients.luma.detach()).long()[:, 0]  # (B, rows, cols, 64)
    device = luma.device
    table, real, previous = (
        torch.from_numpy(a).to(device)
        for a in _scan_layout(coefficients.image_size, coefficients.subsampling, coefficients.channels)
    )
    batch = luma.shape[0]
    if coefficients.chroma is None:
        blocks = luma.reshape(batch, -1, 64)
    else:
        chroma = round_half_away(coefficients.chroma.detach()).long()  # (B, 2, rows, cols, 64)
        factor_w, factor_h = SUBSAMPLING_FACTORS[coefficients.subsampling]
        rows, cols = chroma.shape[2:4]
        luma = F.pad(luma, (0, 0, 0, cols * factor_w - luma.shape[2], 0, rows * factor_h - luma.shape[1]))
        luma = luma.reshape(batch, rows, factor_h, cols, factor_w, 64).transpose(2, 3)
        luma = luma.reshape(batch, rows, cols, factor_h * factor_w, 64)
        blocks = torch.cat([luma, chroma.permute(0, 2, 3, 1, 4)], dim=3).reshape(batch, -1, 64)
    blocks = blocks[..., list(ZIGZAG)]
    dc = blocks[..., 0]
    predictor = F.pad(dc, (1, 0)).index_select(1, previous + 1)
    # MCU-fill blocks repeat the previous block's DC (a difference of 0) and have no AC coefficients.
    blocks[..., 0] = torch.where(real, dc - predictor, 0)
    return blocks, table


def _bit_length(values: Tensor) -> Tensor:
    """Size category: the number of bits of |v| (0 for 0)."""
    return torch.frexp(values.abs().float()).exponent.long()


def _symbols(blocks: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Each slot's symbol, whether it holds one, its extra-bit count and extra bits, all (B, N, 64).

    Coefficients beyond the baseline ranges (|DC difference| > 2047, |AC| > 1023, only possible for
    coefficients not from an 8-bit encoder) are clamped to them.
    """
    limits = torch.full((64,), 1023, device=blocks.device)
    limits[0] = 2047
    blocks = torch.maximum(torch.minimum(blocks, limits), -limits)
    size = _bit_length(blocks)
    extra = torch.where(blocks < 0, blocks + (1 << size) - 1, blocks)
    ac = blocks[..., 1:]
    position = torch.arange(1, 64, device=blocks.device)
    last_nonzero = torch.where(ac != 0, position, 0).cummax(-1).values  # at or before each position
    run = position - F.pad(last_nonzero[..., :-1], (1, 0)) - 1  # zeros before each position
    last = last_nonzero[..., -1:]
    zero = ac == 0
    zrl = zero & ((position - last_nonzero) % 16 == 0) & (position < last)
    eob = zero & (position == last + 1)
    ac_symbol = torch.where(zero, torch.where(zrl, _ZRL, _EOB), ((run % 16) << 4) | size[..., 1:])
    symbol = torch.cat([size[..., :1], ac_symbol], -1)
    present = torch.cat([torch.ones_like(zero[..., :1]), ~zero | zrl | eob], -1)
    return symbol, present, size, extra


def _optimal_codes(symbol: Tensor, present: Tensor, table: Tensor, tables: int) -> tuple[Tensor, ...]:
    """Per-image optimal DC and AC codebooks from the symbol counts, and their DHT value counts."""
    batch = symbol.shape[0]
    codebooks, values = [], 0
    for kind, slots, symbols, most in (
        ("dc", symbol[..., :1], DC_SYMBOLS, DC_SYMBOLS),
        ("ac", symbol[..., 1:], AC_SYMBOLS, MAX_AC_SYMBOLS),
    ):
        index = (table[:, None] * symbols + slots).reshape(batch, -1)
        weight = present[..., :1] if kind == "dc" else present[..., 1:]
        counts = torch.zeros(batch, tables * symbols, dtype=torch.int64, device=symbol.device)
        counts.scatter_add_(1, index, weight.reshape(batch, -1).long())
        bits, order = optimal_bits_and_values(counts.reshape(batch * tables, symbols), most)
        codes, lengths = canonical_codes(bits, order, symbols)
        codebooks += [codes.reshape(batch, tables * symbols), lengths.reshape(batch, tables * symbols)]
        values = values + bits.reshape(batch, -1).sum(1)
    return (*codebooks, values)


def _lookup(codebook: Tensor, index: Tensor) -> Tensor:
    """codebook (T * symbols,) shared or (B, T * symbols) per image, at index (B, N, S)."""
    if codebook.ndim == 1:
        return codebook[index]
    return codebook.gather(1, index.reshape(index.shape[0], -1)).reshape(index.shape)


def _scan_bytes(coefficients: JPEGCoefficients, optimize: bool) -> tuple[Tensor, Tensor]:
    """Bytes of the entropy-coded scan (with stuffing) and the DHT value counts, both (B,)."""
    blocks, table = _coded_blocks(coefficients)
    symbol, present, size, extra = _symbols(blocks)
    batch, device = blocks.shape[0], blocks.device
    tables = 1 if coefficients.chroma is None else 2
    if optimize:
        dc_code, dc_length, ac_code, ac_length, values = _optimal_codes(symbol, present, table, tables)
    else:
        (dc_code, dc_length), (ac_code, ac_length) = standard_codes("dc", device), standard_codes("ac", device)
        dc_code, dc_length, ac_code, ac_length = (t[:tables].reshape(-1) for t in (dc_code, dc_length, ac_code, ac_length))
        values = torch.full((batch,), tables * (DC_SYMBOLS + MAX_AC_SYMBOLS), device=device)
    dc_index = table[:, None] * DC_SYMBOLS + symbol[..., :1]
    ac_index = table[:, None] * AC_SYMBOLS + symbol[..., 1:]
    code = torch.cat([_lookup(dc_code, dc_index), _lookup(ac_code, ac_index)], -1)
    code_length = torch.cat([_lookup(dc_length, dc_index), _lookup(ac_length, ac_index)], -1)
    extra_bits = torch.where(present, size, 0)  # ZRL and EOB slots carry no extra bits (size 0)
    length = torch.where(present, code_length + extra_bits, 0).reshape(batch, -1)
    value = torch.where(present, (code << extra_bits) | extra, 0).reshape(batch, -1)
    total = length.sum(1, keepdim=True)
    # The last byte is padded with 1 bits: one more slot per image.
    padding = (-total) % 8
    length = torch.cat([length, padding], 1)
    value = torch.cat([value, (1 << padding) - 1], 1)
    return _stuffed_bytes(value, length), values


def _stuffed_bytes(value: Tensor, length: Tensor) -> Tensor:
    """Number of bytes of the bit strings ``value`` (B, S) of ``length`` bits (<= 32) written in turn, with
    a stuffed 0x00 after every 0xFF byte."""
    batch, slots = length.shape
    end = length.cumsum(1)
    start = end - length
    word, offset = start // _WORD, start % _WORD
    tail = offset + length  # bit just past the slot, counted from its first word's start
    fits = tail <= _WORD
    first = torch.where(fits, value << (_WORD - tail).clamp(min=0), value >> (tail - _WORD).clamp(min=0))
    second = torch.where(fits, 0, (value << (2 * _WORD - tail).clamp(max=_WORD)) & 0xFFFFFFFF)
    words = torch.zeros(batch, ceil_div(slots * 32, _WORD) + 2, dtype=torch.int64, device=value.device)
    words.scatter_add_(1, word, first).scatter_add_(1, word + 1, second)
    shifts = torch.tensor([24, 16, 8, 0], device=value.device)
    stuffed = ((words[..., None] >> shifts) & 0xFF == 0xFF).sum((1, 2))
    return end[:, -1] // 8 + stuffed


def jpeg_file_size(
    image: Tensor | JPEGCoefficients,
    quality: float | Tensor | None = None,
    *,
    qt_y: Tensor | None = None,
    qt_c: Tensor | None = None,
    subsampling: str = "4:2:0",
    optimize: bool = False,
) -> Tensor:
    """The exact byte length of the baseline JPEG file OpenCV and Pillow write, without an encoder.

    The images are coded with :func:`~kornia_diffjpeg.jpeg_encode` in ``mode="exact"`` and the file
    is sized from the coefficients on their device: the JFIF headers, and the Huffman-coded scan with
    its byte stuffing and final padding, as libjpeg-turbo writes them. The result equals
    ``len(cv2.imencode(".jpg", ...)[1])`` and the length of Pillow's ``save(format="JPEG")`` output for
    the same settings (``quality`` or ``qtables``, ``subsampling``, ``optimize``), for the 8-bit image
    ``round(255 * image)``. No gradient flows; see ``diff_jpeg_file_size`` for a differentiable estimate.

    Args:
        image: float images in [0, 1], (B, C, H, W) or (C, H, W), C = 1 or 3, or the
            :class:`~kornia_diffjpeg.JPEGCoefficients` of an earlier :func:`~kornia_diffjpeg.jpeg_encode`
            (any mode; coefficients are rounded to integers). With coefficients, ``quality``,
            ``qt_y`` and ``qt_c`` must be None and ``subsampling`` is taken from them.
        quality: JPEG quality in [1, 100] (rounded to an integer), a number or per-sample (B,).
        qt_y: luma quantization table (8, 8) or (B, 8, 8) in [1, 255], as in ``jpeg_encode``.
        qt_c: chroma quantization table, as ``qt_y``.
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"`` (ignored for grayscale).
        optimize: size the file with libjpeg's optimal Huffman tables for each image (Pillow's
            ``optimize=True``, OpenCV's ``IMWRITE_JPEG_OPTIMIZE``) instead of the standard tables.

    Returns:
        File sizes in bytes, int64 on the input's device: (B,) for batched input, 0-d for (C, H, W).

    Example:
        >>> image = torch.rand(2, 3, 40, 52)
        >>> jpeg_file_size(image, 75.0).shape
        torch.Size([2])
        >>> int(jpeg_file_size(torch.zeros(1, 8, 8), 50.0))  # 330 header bytes, 1 data byte
        332
    """
    if not isinstance(optimize, bool):
        raise TypeError(f"optimize must be a bool, got {type(optimize).__name__}")
    if isinstance(image, JPEGCoefficients):
        given = [name for name, v in (("quality", quality), ("qt_y", qt_y), ("qt_c", qt_c)) if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} must be None when image is JPEGCoefficients (they are coded already)")
        coefficients = image
    else:
        with torch.no_grad():
            coefficients = jpeg_encode(image, quality, qt_y=qt_y, qt_c=qt_c, mode="exact", subsampling=subsampling)
    scan, dht_values = _scan_bytes(coefficients, optimize)
    sizes = header_size(coefficients.channels, dht_values) + scan
    return sizes if coefficients.batched else sizes[0]
