"""The standard Huffman tables (ITU T.81 Annex K.3) as code lengths per symbol, and the zigzag order.

These are the tables libjpeg writes when Huffman optimization is off (OpenCV's and Pillow's default).
"""

from __future__ import annotations

import functools

from kornia_diffjpeg._checks import check_bool

__all__ = [
    "STANDARD_HUFFMAN",
    "ZIGZAG",
    "huffman_codes",
]

#: (BITS: number of codes of each length 1..16, HUFFVAL as hex) of the four Annex K.3 tables.
STANDARD_HUFFMAN: dict[str, tuple[tuple[int, ...], str]] = {
    "dc_luma": ((0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0), "000102030405060708090a0b"),
    "dc_chroma": ((0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0), "000102030405060708090a0b"),
    "ac_luma": (
        (0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 125),
        "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728"
        "292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778797a83848586878889"
        "8a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2"
        "e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa",
    ),
    "ac_chroma": (
        (0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 119),
        "000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a26"
        "2728292a35363738393a434445464748494a535455565758595a636465666768696a737475767778797a828384858687"
        "88898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9da"
        "e2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa",
    ),
}

#: Natural (row-major) index of each zigzag position.
ZIGZAG: tuple[int, ...] = tuple(
    row * 8 + col
    for total in range(15)
    for row, col in (
        ((r, total - r) for r in range(max(0, total - 7), min(total, 7) + 1))
        if total % 2
        else ((total - c, c) for c in range(max(0, total - 7), min(total, 7) + 1))
    )
)


@functools.cache
def _canonical_codes(name: str) -> dict[int, tuple[int, int]]:
    """symbol -> (code, length) of a table, assigned canonically (shorter codes first, in HUFFVAL order)."""
    bits, values = STANDARD_HUFFMAN[name]
    symbols = iter(bytes.fromhex(values))
    codes, code = {}, 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[next(symbols)] = (code, length)
            code += 1
        code <<= 1
    return codes


def huffman_codes(luma: bool, ac: bool) -> dict[int, str]:
    """symbol -> code as a bit string, of the standard luma or chroma, DC or AC table.

    DC symbols are size categories 0..11; AC symbols are ``run << 4 | size`` (EOB 0x00, ZRL 0xF0).
    """
    check_bool("luma", luma)
    check_bool("ac", ac)
    name = ("ac_" if ac else "dc_") + ("luma" if luma else "chroma")
    return {symbol: format(code, f"0{length}b") for symbol, (code, length) in _canonical_codes(name).items()}
