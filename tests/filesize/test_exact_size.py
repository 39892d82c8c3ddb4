"""The exact file size against the bytes OpenCV and Pillow write (libjpeg-turbo)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kornia_diffjpeg import jpeg_encode, jpeg_file_size
from kornia_diffjpeg.filesize.codebook import canonical_codes, optimal_bits_and_values
from kornia_diffjpeg.filesize.exact import header_size
from kornia_diffjpeg.filesize.huffman import ZIGZAG
from testing.datasets import PHOTO_NAMES, sparse_frequency_image, synthetic_photo
from testing.datasets import small_crop as load_photo
from testing.reference import from_uint8, opencv_encode, pillow_encode

SUBSAMPLINGS = ("4:2:0", "4:2:2", "4:4:4")
QUALITIES = (1, 7, 30, 50, 75, 90, 97, 100)
#: Hypothesis strategies for a random image and its coding settings.
IMAGE_SETTINGS = {
    "seed": st.integers(0, 2**32 - 1),
    "height": st.integers(1, 70),
    "width": st.integers(1, 70),
    "channels": st.sampled_from([1, 3]),
    "subsampling": st.sampled_from(SUBSAMPLINGS),
    "optimize": st.booleans(),
}


def _segments(data: bytes) -> list[tuple[int, int]]:
    """(marker, bytes incl. the marker) of each segment up to and including SOS."""
    segments, i = [(0xD8, 2)], 2
    while True:
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        segments.append((marker, length + 2))
        if marker == 0xDA:
            return segments
        i += 2 + length


@pytest.mark.parametrize("name", PHOTO_NAMES)
@pytest.mark.parametrize("optimize", [False, True])
def test_photos_match_opencv_and_pillow(name: str, optimize: bool) -> None:
    array = load_photo(name, 37, 53)  # partial blocks and MCUs
    image = from_uint8(array)
    for subsampling in SUBSAMPLINGS if array.ndim == 3 else ("4:2:0",):
        batch = image.expand(len(QUALITIES), -1, -1, -1)
        sizes = jpeg_file_size(batch, torch.tensor(QUALITIES), subsampling=subsampling, optimize=optimize)
        for quality, size in zip(QUALITIES, sizes.tolist(), strict=True):
            expected = len(opencv_encode(array, quality, subsampling, optimize=optimize))
            assert size == expected, (quality, subsampling)
            assert size == len(pillow_encode(array, quality, subsampling, optimize=optimize)), (quality, subsampling)


@given(**IMAGE_SETTINGS, quality=st.integers(1, 100))
def test_random_images_match_opencv_and_pillow(seed, height, width, channels, subsampling, quality, optimize) -> None:
    array = synthetic_photo(seed, height, width, channels)
    size = jpeg_file_size(from_uint8(array), float(quality), subsampling=subsampling, optimize=optimize)
    assert size.shape == () and size.dtype == torch.int64
    assert int(size) == len(opencv_encode(array, quality, subsampling, optimize=optimize))
    assert int(size) == len(pillow_encode(array, quality, subsampling, optimize=optimize))


@given(**IMAGE_SETTINGS)
def test_random_tables_match_pillow(seed, height, width, channels, subsampling, optimize) -> None:
    array = synthetic_photo(seed, height, width, channels)
    rng = np.random.default_rng(seed)
    top = rng.choice([4, 40, 255])
    qt_y, qt_c = (torch.from_numpy(rng.integers(1, top + 1, (8, 8))).float() for _ in range(2))
    size = jpeg_file_size(from_uint8(array), qt_y=qt_y, qt_c=qt_c, subsampling=subsampling, optimize=optimize)
    expected = pillow_encode(array, None, subsampling, qtables=[qt_y, qt_c][:channels], optimize=optimize)
    assert int(size) == len(expected)


def test_zero_runs_and_long_codes() -> None:
    """Single high-frequency coefficients: runs of 16+ zeros (ZRL) before them and rare long codes."""
    array = sparse_frequency_image(0)
    for optimize in (False, True):
        sizes = jpeg_file_size(from_uint8(array).expand(3, -1, -1, -1), torch.tensor([20, 80, 100]), optimize=optimize)
        expected = [len(opencv_encode(array, q, optimize=optimize)) for q in (20, 80, 100)]
        assert sizes.tolist() == expected


@pytest.mark.parametrize("channels", [1, 3])
def test_header_size_matches_the_written_headers(channels: int) -> None:
    array = synthetic_photo(1, 24, 40, channels)
    for optimize in (False, True):
        data = opencv_encode(array, 75, optimize=optimize)
        segments = _segments(data)
        assert sum(n for m, n in segments if m == 0xDB) == 69 * (2 if channels == 3 else 1)
        dht_values = sum(n - 21 for m, n in segments if m == 0xC4)
        assert sum(n for _, n in segments) + 2 == header_size(channels, dht_values)  # + EOI
    assert header_size(3) == 625
    assert (
        header_size(1) == sum(n for _, n in _segments(opencv_encode(array[..., 0] if channels == 3 else array, 75))) + 2
    )


def test_coefficients_input_and_batching() -> None:
    images = torch.stack([from_uint8(load_photo(name, 21, 30)) for name in ("astronaut", "coffee")])
    quality = torch.tensor([35.0, 88.0])
    sizes = jpeg_file_size(images, quality, subsampling="4:2:2")
    assert sizes.shape == (2,) and sizes.dtype == torch.int64
    coefficients = jpeg_encode(images, quality, mode="exact", subsampling="4:2:2")
    assert torch.equal(jpeg_file_size(coefficients), sizes)
    assert torch.equal(jpeg_file_size(images[1], 88.0, subsampling="4:2:2"), sizes[1])
    # Non-integer coefficients (as from the smooth modes) are rounded to integers first.
    coefficients.luma = coefficients.luma + torch.empty_like(coefficients.luma).uniform_(-0.4, 0.4)
    assert torch.equal(jpeg_file_size(coefficients), sizes)


def test_gradients_do_not_flow_and_inputs_are_untouched() -> None:
    image = torch.rand(1, 3, 16, 16, requires_grad=True)
    size = jpeg_file_size(image, 50.0)
    assert not size.requires_grad and image.grad is None


def test_optimal_tables_limit_code_lengths() -> None:
    """Fibonacci counts give a 21-deep Huffman tree; libjpeg's tables keep 16 bits and the all-ones code free."""
    fibonacci = [1, 1]
    while len(fibonacci) < 40:
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    counts = torch.zeros(2, 256, dtype=torch.int64)
    counts[0, :40] = torch.tensor(fibonacci)
    counts[1, 7] = 5  # a single symbol
    bits, values = optimal_bits_and_values(counts)
    assert bits.sum(1).tolist() == [40, 1]
    kraft = (bits.double() * 2.0 ** -torch.arange(1, 17)).sum(1)
    assert bool((kraft < 1).all())
    assert values[1, 0] == 7 and bits[1, 0] == 1
    # Canonical codes: prefix-free (Kraft sum < 1 above), and none is all ones.
    codes, lengths = canonical_codes(bits, values, 256)
    used = lengths > 0
    assert used.sum(1).tolist() == [40, 1]
    assert not bool(((codes == (1 << lengths) - 1) & used).any())


def test_length_limited_optimal_tables_match_pillow(monkeypatch) -> None:
    """AC symbol counts growing like Fibonacci numbers need codes over 16 bits before limiting."""
    import kornia_diffjpeg.filesize.codebook as codebook

    limited = []
    limit_lengths = codebook._limit_lengths
    monkeypatch.setattr(
        codebook, "_limit_lengths", lambda bits: limited.append(bool((bits[:, 17:] > 0).any())) or limit_lengths(bits)
    )
    counts = [1, 2]
    while len(counts) < 18:
        counts.append(counts[-1] + counts[-2])
    y, x = np.mgrid[0:8, 0:8]
    blocks = []
    for k, count in enumerate(counts):  # one non-zero coefficient (size 1 or 2) at zigzag position 1..15
        u, v = divmod(ZIGZAG[1 + k % 15], 8)
        wave = np.cos((2 * y + 1) * u * np.pi / 16) * np.cos((2 * x + 1) * v * np.pi / 16)
        blocks += [np.round(128 + (60 if k < 15 else 120) * wave)] * count
    blocks += [np.full((8, 8), 128.0)] * (-len(blocks) % 128)
    array = np.array(blocks).reshape(-1, 128, 8, 8).transpose(0, 2, 1, 3).reshape(-1, 1024).astype(np.uint8)
    table = torch.full((8, 8), 255.0)  # only the intended coefficient survives quantization
    size = jpeg_file_size(from_uint8(array), qt_y=table, qt_c=table, optimize=True)
    assert any(limited)
    assert int(size) == len(pillow_encode(array, None, qtables=[table], optimize=True))


def test_bad_inputs() -> None:
    image = torch.rand(3, 8, 8)
    with pytest.raises(TypeError, match="optimize"):
        jpeg_file_size(image, 50.0, optimize=1)
    with pytest.raises(ValueError, match="quality"):
        jpeg_file_size(jpeg_encode(image, 50.0, mode="exact"), 50.0)
    with pytest.raises(TypeError, match="image"):
        jpeg_file_size((image * 255).short(), 50.0)  # uint8 is an 8-bit image; other integers are not
    with pytest.raises(ValueError, match="subsampling"):
        jpeg_file_size(image, 50.0, subsampling="4:1:1")
    with pytest.raises(ValueError, match="quality"):
        jpeg_file_size(image, -1.0)
    with pytest.raises(ValueError, match="qt_y"):
        jpeg_file_size(image, qt_y=torch.full((8, 8), 300.0), qt_c=torch.ones(8, 8))


def _jchuff_optimal_table(freq: list[int]) -> tuple[list[int], list[int]]:
    """``jpeg_gen_optimal_table`` of libjpeg's jchuff.c, step by step in plain Python: bits[1..16] and the
    symbols in code order."""
    freq = [*freq, 1]  # the reserved symbol, so that no code is all ones
    size, others = [0] * len(freq), [-1] * len(freq)
    while True:
        live = [i for i, f in enumerate(freq) if f]
        if len(live) < 2:
            break
        c1 = min(live, key=lambda i: (freq[i], -i))  # smallest count, the larger symbol among ties
        c2 = min((i for i in live if i != c1), key=lambda i: (freq[i], -i))
        freq[c1] += freq[c2]
        freq[c2] = 0
        for chain in (c1, c2):
            node = chain
            size[node] += 1
            while others[node] >= 0:
                node = others[node]
                size[node] += 1
        node = c1
        while others[node] >= 0:
            node = others[node]
        others[node] = c2
    bits = [0] * (max(size) + 1 if max(size) > 32 else 33)
    for s in size:
        if s:
            bits[s] += 1
    for i in range(len(bits) - 1, 16, -1):  # limit the code lengths to 16 bits
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
    i = 16
    while bits[i] == 0:
        i -= 1
    bits[i] -= 1  # the reserved code
    order = [s for length in range(1, max(size) + 1) for s in range(len(freq) - 1) if size[s] == length]
    return bits[1:17], order


@pytest.mark.parametrize("symbols", [12, 256])
def test_optimal_tables_follow_libjpegs_construction(symbols: int) -> None:
    """Against jchuff.c's algorithm written plainly: ties (all counts equal), a single symbol, counts over
    six orders of magnitude, Fibonacci chains past 16 bits."""
    rng = np.random.default_rng(7)
    rows = [np.full(symbols, 3), np.eye(1, symbols, symbols - 1, dtype=np.int64)[0] * 9]
    rows += [(rng.random(symbols) < 0.4) * rng.integers(1, 10**6, symbols) for _ in range(20)]
    rows += [rng.integers(0, 3, symbols) for _ in range(10)]
    fibonacci = [1, 2]
    while len(fibonacci) < min(symbols, 30):
        fibonacci.append(fibonacci[-1] + fibonacci[-2])
    rows.append(np.pad(fibonacci, (0, symbols - len(fibonacci))))
    rows = [row if row.any() else np.eye(1, symbols, 0, dtype=np.int64)[0] for row in rows]
    counts = torch.from_numpy(np.stack(rows).astype(np.int64))
    bits, values = optimal_bits_and_values(counts)
    for row, table_bits, table_values in zip(rows, bits.tolist(), values.tolist(), strict=True):
        expected_bits, expected_order = _jchuff_optimal_table(row.tolist())
        assert table_bits == expected_bits
        assert table_values[: sum(expected_bits)] == expected_order
