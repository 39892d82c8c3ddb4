"""The marker segments libjpeg-turbo writes around the scan of a baseline JFIF file.

SOI, APP0 (JFIF 1.1, no density), one DQT per quantization table (8-bit entries, zigzag order),
SOF0, one DHT per Huffman table (DC 0, AC 0, DC 1, AC 1), SOS; after the scan, EOI. OpenCV and
Pillow write the same segments; they differ only in the sampling factors of a grayscale image's
one component (OpenCV 1x1; Pillow those of its ``subsampling=`` argument, 1x1 when not given).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS
from kornia_diffjpeg.filesize.codebook import DC_SYMBOLS, MAX_AC_SYMBOLS
from kornia_diffjpeg.filesize.huffman import ZIGZAG

__all__ = ["END_OF_IMAGE", "WRITERS", "header_bytes", "header_size"]

#: The libraries whose headers :func:`header_bytes` reproduces.
WRITERS = ("opencv", "pillow")
END_OF_IMAGE = b"\xff\xd9"
_START = bytes.fromhex("ffd8ffe000104a46494600010100000100010000")  # SOI, APP0 (JFIF 1.1, aspect 1:1)
_DQT, _DHT_BASE = 69, 21  # bytes of a DQT segment (8-bit entries) and of a DHT segment without its values
_DHT_MAX = _DHT_BASE + 256


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
    if isinstance(channels, bool) or channels not in (1, 3):  # the layouts a baseline JFIF file of ours holds
        raise ValueError(f"channels must be 1 (grayscale) or 3 (YCbCr), got {channels!r}")
    tables = 1 if channels == 1 else 2
    if dht_values is None:
        dht_values = tables * (DC_SYMBOLS + MAX_AC_SYMBOLS)
    sof, sos = 10 + 3 * channels, 8 + 2 * channels
    return len(_START) + tables * _DQT + sof + 2 * tables * _DHT_BASE + sos + dht_values + len(END_OF_IMAGE)


def _frame_and_scan_headers(size: tuple[int, int], channels: int, sampling: int) -> tuple[bytes, bytes]:
    """SOF0 and SOS segments: component ids 1..3, table 0 for luma, 1 for chroma."""
    height, width = size
    components = [(1, sampling, 0), (2, 0x11, 1), (3, 0x11, 1)][:channels]
    sof = bytes([0xFF, 0xC0, 0, 8 + 3 * channels, 8, height >> 8, height & 255, width >> 8, width & 255, channels])
    sof += bytes(b for component in components for b in component)
    sos = bytes([0xFF, 0xDA, 0, 6 + 2 * channels, channels])
    sos += bytes(b for i, _, table in components for b in (i, table << 4 | table)) + bytes([0, 63, 0])
    return sof, sos


@functools.lru_cache(maxsize=8)
def _zigzag(device: torch.device) -> Tensor:
    return torch.tensor(ZIGZAG, device=device)


def _constant(data: bytes, batch: int, device: torch.device) -> Tensor:
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).to(device).expand(batch, -1)


def header_bytes(
    tables: list[Tensor],
    huffman_bits: Tensor,
    huffman_values: Tensor,
    size: tuple[int, int],
    subsampling: str,
    writer: str,
) -> tuple[Tensor, Tensor]:
    """Every image's headers up to and including SOS, packed one after the other.

    Args:
        tables: the quantization tables, one (B, 8, 8) integer tensor per table (luma, chroma), in [1, 255].
        huffman_bits: (B or 1, 2T, 16) codes of each length of the Huffman tables, in DHT order.
        huffman_values: (B or 1, 2T, 256) their symbols (the first ``bits.sum(-1)`` are used).
        size: (H, W) of the images.
        subsampling: chroma layout (sets the luma sampling factors).
        writer: ``"opencv"`` or ``"pillow"`` (differ for grayscale only, see the module).

    Returns:
        The bytes (S,) uint8 of all images' headers, and each image's header length (B,).
    """
    batch, channels, device = tables[0].shape[0], 1 if len(tables) == 1 else 3, tables[0].device
    factor_w, factor_h = SUBSAMPLING_FACTORS[subsampling]
    sampling = factor_w << 4 | factor_h if channels == 3 or writer == "pillow" else 0x11
    sof, sos = _frame_and_scan_headers(size, channels, sampling)
    zigzag = _zigzag(device)
    dqt = [
        torch.cat(
            [
                _constant(bytes([0xFF, 0xDB, 0, 67, t]), batch, device),
                table.reshape(batch, 64)[:, zigzag].to(torch.uint8),
            ],
            1,
        )
        for t, table in enumerate(tables)
    ]
    # DHT segments padded to 256 values, and a mask of the bytes that are written.
    count = huffman_bits.sum(-1, keepdim=True)  # (B or 1, 2T, 1)
    length = count + (_DHT_BASE - 2)
    kind = torch.tensor([0x00, 0x10, 0x01, 0x11][: huffman_bits.shape[1]], device=device).view(1, -1, 1)
    marker = torch.tensor([0xFF, 0xC4], device=device).expand(*huffman_bits.shape[:2], 2)
    dht = torch.cat([marker, length >> 8, length & 255, kind.expand_as(length), huffman_bits, huffman_values], 2)
    written = torch.arange(_DHT_MAX, device=device) < count + _DHT_BASE
    dht, written = dht.to(torch.uint8).expand(batch, -1, -1), written.expand(batch, -1, -1)
    parts = [_constant(_START, batch, device), *dqt, _constant(sof, batch, device), dht.reshape(batch, -1)]
    parts.append(_constant(sos, batch, device))
    headers = torch.cat(parts, 1)
    fixed = len(_START) + len(tables) * _DQT + len(sof)
    mask = torch.ones_like(headers, dtype=torch.bool)
    mask[:, fixed : fixed + written.shape[1] * _DHT_MAX] = written.reshape(batch, -1)
    return headers[mask], mask.sum(1)
