"""encode_jpeg against the files OpenCV and Pillow (libjpeg-turbo) write, byte for byte."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from kornia_diffjpeg import decode_jpeg, encode_jpeg, jpeg_decode, jpeg_encode, jpeg_file_size
from testing.datasets import COLOR_PHOTO_NAMES, PHOTO_NAMES, small_crop, sparse_frequency_image, synthetic_photo
from testing.reference import decode, from_uint8, opencv_encode, pillow_encode, to_uint8

SUBSAMPLINGS = ("4:2:0", "4:2:2", "4:4:4")


@pytest.mark.parametrize("name", PHOTO_NAMES)
def test_every_quality_matches_opencv_and_pillow(name: str) -> None:
    """Qualities 1..100 in one batch (per-sample qualities), 4:2:0 with the standard tables."""
    array = small_crop(name, 37, 53)  # partial blocks and MCUs
    qualities = torch.arange(1, 101)
    files = encode_jpeg(from_uint8(array).expand(100, -1, -1, -1), qualities.float())
    for quality, data in zip(qualities.tolist(), files, strict=True):
        assert data == opencv_encode(array, quality), quality
        if array.ndim == 3:
            assert data == pillow_encode(array, quality), quality
    if array.ndim == 2:  # Pillow declares a gray component with the factors of its subsampling argument
        files = encode_jpeg(from_uint8(array).expand(100, -1, -1, -1), qualities.float(), writer="pillow")
        for quality, data in zip(qualities.tolist(), files, strict=True):
            assert data == pillow_encode(array, quality, "4:2:0"), quality


@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
def test_layouts_and_optimized_tables(subsampling: str, optimize: bool) -> None:
    qualities = (1, 13, 50, 75, 90, 95, 100)
    for name in COLOR_PHOTO_NAMES:
        array = small_crop(name, 45, 61)
        batch = from_uint8(array).expand(len(qualities), -1, -1, -1)
        files = encode_jpeg(batch, torch.tensor(qualities), subsampling=subsampling, optimize=optimize)
        for quality, data in zip(qualities, files, strict=True):
            assert data == opencv_encode(array, quality, subsampling, optimize=optimize), (name, quality)
            assert data == pillow_encode(array, quality, subsampling, optimize=optimize), (name, quality)
        gray = np.ascontiguousarray(array[..., 1])
        files = encode_jpeg(from_uint8(gray)[None], 60.0, subsampling=subsampling, optimize=optimize, writer="pillow")
        assert files[0] == pillow_encode(gray, 60, subsampling, optimize=optimize)
        opencv = encode_jpeg(from_uint8(gray)[None], 60.0, optimize=optimize)
        assert opencv[0] == opencv_encode(gray, 60, optimize=optimize)


@pytest.mark.parametrize("size", [(1, 1), (1, 9), (9, 1), (7, 7), (8, 8), (15, 17), (16, 16), (17, 33), (31, 64)])
@pytest.mark.parametrize("channels", [1, 3])
def test_odd_sizes(size: tuple[int, int], channels: int) -> None:
    array = synthetic_photo(sum(size) + channels, *size, channels)
    for subsampling in SUBSAMPLINGS if channels == 3 else ("4:2:0",):
        for optimize in (False, True):
            data = encode_jpeg(from_uint8(array), 80.0, subsampling=subsampling, optimize=optimize)
            assert data == [opencv_encode(array, 80, subsampling, optimize=optimize)], (subsampling, optimize)


def test_largest_sides() -> None:
    """libjpeg's largest side, 65500 (the SOF's 16-bit fields, many MCUs in a row)."""
    for channels, size in ((1, (9, 65500)), (3, (65500, 3))):
        array = synthetic_photo(channels, *size, channels)
        assert encode_jpeg(from_uint8(array), 90.0) == [opencv_encode(array, 90)]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    height=st.integers(1, 70),
    width=st.integers(1, 70),
    channels=st.sampled_from([1, 3]),
    subsampling=st.sampled_from(SUBSAMPLINGS),
    optimize=st.booleans(),
)
def test_random_tables_match_pillow(seed, height, width, channels, subsampling, optimize) -> None:
    array = synthetic_photo(seed, height, width, channels)
    rng = np.random.default_rng(seed)
    top = rng.choice([4, 40, 255])
    qt_y, qt_c = (torch.from_numpy(rng.integers(1, top + 1, (8, 8))).float() for _ in range(2))
    files = encode_jpeg(
        from_uint8(array), qt_y=qt_y, qt_c=qt_c, subsampling=subsampling, optimize=optimize, writer="pillow"
    )
    expected = pillow_encode(array, None, subsampling, qtables=[qt_y, qt_c][:channels], optimize=optimize)
    assert files == [expected]
    size = jpeg_file_size(from_uint8(array), qt_y=qt_y, qt_c=qt_c, subsampling=subsampling, optimize=optimize)
    assert int(size) == len(expected)


def test_per_sample_settings_in_one_batch() -> None:
    """Different qualities and tables per image of one batch; each file equals its own reference."""
    arrays = [small_crop(name, 40, 56) for name in COLOR_PHOTO_NAMES]
    images = torch.stack([from_uint8(a) for a in arrays])
    rng = np.random.default_rng(3)
    qt_y = torch.from_numpy(rng.integers(1, 80, (3, 8, 8))).float()
    qt_c = torch.from_numpy(rng.integers(1, 120, (3, 8, 8))).float()
    for optimize in (False, True):
        files = encode_jpeg(images, qt_y=qt_y, qt_c=qt_c, subsampling="4:2:2", optimize=optimize)
        for i, data in enumerate(files):
            assert data == pillow_encode(arrays[i], None, "4:2:2", qtables=[qt_y[i], qt_c[i]], optimize=optimize)
        sizes = jpeg_file_size(images, qt_y=qt_y, qt_c=qt_c, subsampling="4:2:2", optimize=optimize)
        assert sizes.tolist() == [len(data) for data in files]


def test_zero_runs_and_long_codes() -> None:
    """Single high-frequency coefficients: runs of 16+ zeros (ZRLs) before them, and with optimized
    tables rare, long ZRL and run codes."""
    array = sparse_frequency_image(0)
    photo = np.ascontiguousarray(small_crop("astronaut", 48, 72)[..., 0])
    array = np.concatenate([array, photo], 0)  # many common symbols make the ZRL codes long
    for optimize in (False, True):
        files = encode_jpeg(from_uint8(array).expand(3, -1, -1, -1), torch.tensor([20, 80, 100]), optimize=optimize)
        assert files == [opencv_encode(array, q, optimize=optimize) for q in (20, 80, 100)]


def test_coefficients_input_and_file_size() -> None:
    images = torch.stack([from_uint8(small_crop(name, 21, 30)) for name in COLOR_PHOTO_NAMES])
    quality = torch.tensor([35.0, 88.0, 100.0])
    for optimize in (False, True):
        files = encode_jpeg(images, quality, subsampling="4:4:4", optimize=optimize)
        coefficients = jpeg_encode(images, quality, mode="exact", subsampling="4:4:4")
        assert encode_jpeg(coefficients, optimize=optimize) == files
        assert jpeg_file_size(images, quality, subsampling="4:4:4", optimize=optimize).tolist() == list(map(len, files))
        # Reading a file back and writing its coefficients gives the same file.
        assert encode_jpeg(decode_jpeg(files), optimize=optimize) == files


def test_leading_dimensions_and_single_image() -> None:
    clips = torch.rand(2, 3, 3, 16, 24)
    files = encode_jpeg(clips, 70.0)
    assert len(files) == 6 and files[4] == encode_jpeg(clips[1, 1], 70.0)[0]


def _as_uint8_tensor(array: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, C) / (H, W) as the uint8 (C, H, W) tensor ``torchvision.io.encode_jpeg`` takes."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor[None] if tensor.ndim == 2 else tensor.permute(2, 0, 1)


@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize("layout", [*SUBSAMPLINGS, "gray"])
def test_uint8_images_are_coded_as_they_are(layout: str, optimize: bool) -> None:
    """8-bit images give OpenCV's files and sizes, the same as their float form, with per-sample qualities,
    odd sizes and any leading dimensions."""
    channels = 1 if layout == "gray" else 3
    subsampling = "4:2:0" if layout == "gray" else layout
    arrays = [synthetic_photo(seed, 19 + seed, 35 - seed, channels) for seed in range(3)]
    for quality in (1, 37, 100):
        for array in arrays:
            data = encode_jpeg(_as_uint8_tensor(array), float(quality), subsampling=subsampling, optimize=optimize)
            assert data == [opencv_encode(array, quality, subsampling, optimize=optimize)], (quality, array.shape)
    arrays = [synthetic_photo(seed, 24, 40, channels) for seed in range(4)]
    batch = torch.stack([_as_uint8_tensor(a) for a in arrays]).view(2, 2, channels, 24, 40)
    qualities = torch.tensor([[5.0, 50.0], [75.0, 96.0]])
    files = encode_jpeg(batch, qualities, subsampling=subsampling, optimize=optimize)
    floats = batch.float() / 255.0
    assert files == encode_jpeg(floats, qualities, subsampling=subsampling, optimize=optimize)
    sizes = jpeg_file_size(batch, qualities, subsampling=subsampling, optimize=optimize)
    assert sizes.shape == (2, 2) and sizes.flatten().tolist() == list(map(len, files))
    for array, quality, data in zip(arrays, qualities.flatten().tolist(), files, strict=True):
        assert data == opencv_encode(array, int(quality), subsampling, optimize=optimize)


def test_uint8_images_with_tables_and_in_bands(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given tables (Pillow's ``qtables=``) and the exact encoder's steps of MCU rows read uint8 samples too."""
    import kornia_diffjpeg.codec.exact as exact

    array = small_crop(COLOR_PHOTO_NAMES[0], 45, 61)
    generator = torch.Generator().manual_seed(3)
    qt_y, qt_c = (torch.randint(1, 256, (8, 8), generator=generator).float() for _ in range(2))
    data = encode_jpeg(_as_uint8_tensor(array), qt_y=qt_y, qt_c=qt_c, writer="pillow")[0]
    assert data == encode_jpeg(from_uint8(array), qt_y=qt_y, qt_c=qt_c, writer="pillow")[0]
    assert data == pillow_encode(array, qtables=(qt_y, qt_c))
    monkeypatch.setattr(exact, "CHUNK_SAMPLES", 500)
    assert encode_jpeg(_as_uint8_tensor(array), 70.0) == [opencv_encode(array, 70)]


def test_integer_images_other_than_uint8_are_refused() -> None:
    for dtype in (torch.int16, torch.int32, torch.bool):
        image = torch.zeros(3, 8, 8, dtype=dtype)
        with pytest.raises(TypeError, match=r"image must be float in \[0, 1\] or uint8 in 0..255"):
            encode_jpeg(image, 50.0)
        with pytest.raises(TypeError, match="or uint8"):
            jpeg_file_size(image, 50.0)
    with pytest.raises(TypeError, match="image.float"):  # the differentiable codec takes float images only
        jpeg_encode(torch.zeros(3, 8, 8, dtype=torch.uint8), 50.0, mode="exact")


def test_bad_inputs() -> None:
    image = torch.rand(3, 8, 8)
    with pytest.raises(ValueError, match="writer"):
        encode_jpeg(image, 50.0, writer="libjpeg")
    with pytest.raises(TypeError, match="optimize"):
        encode_jpeg(image, 50.0, optimize=1)
    coefficients = jpeg_encode(image, 50.0, mode="exact")
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(coefficients, 50.0)
    coefficients.qt_y = coefficients.qt_y * 0 + 300.0
    with pytest.raises(ValueError, match=r"qt_y values must be finite and in \[1, 255\]"):
        encode_jpeg(coefficients)
    with pytest.raises(ValueError, match="65500"):
        encode_jpeg(jpeg_encode(torch.rand(1, 8, 65504), 50.0, mode="exact"))


def test_empty_batch() -> None:
    assert encode_jpeg(torch.rand(0, 3, 16, 16), 50.0) == []
    assert encode_jpeg(jpeg_encode(torch.rand(0, 1, 8, 8), 50.0, mode="exact")) == []


@pytest.mark.parametrize("optimize", [False, True])
@pytest.mark.parametrize("layout", [*SUBSAMPLINGS, "gray"])
def test_steps_of_images_and_of_mcu_rows(monkeypatch: pytest.MonkeyPatch, layout: str, optimize: bool) -> None:
    """Large batches are coded (and decoded) in groups of images and large images in bands of MCU rows: forced
    here with tiny steps, the files, sizes and decoded pixels stay OpenCV's (last bands and groups partial)."""
    import kornia_diffjpeg.codec.exact as exact
    import kornia_diffjpeg.io.scan as scan

    monkeypatch.setattr(scan, "CHUNK_COEFFICIENTS", 5000)
    subsampling = "4:2:0" if layout == "gray" else layout
    channels = 1 if layout == "gray" else 3
    for step, (height, width), count in ((500, (45, 61), 3), (2000, (13, 20), 7)):  # bands; groups of 2 or 5
        monkeypatch.setattr(exact, "CHUNK_SAMPLES", step)
        arrays = [synthetic_photo(seed, height, width, channels) for seed in range(count)]
        qualities = torch.linspace(20, 95, count).round()
        batch = torch.stack([from_uint8(a) for a in arrays])
        files = encode_jpeg(batch, qualities, subsampling=subsampling, optimize=optimize)
        sizes = jpeg_file_size(batch, qualities, subsampling=subsampling, optimize=optimize)
        decoded = jpeg_decode(jpeg_encode(batch, qualities, mode="exact", subsampling=subsampling), mode="exact")
        rows = zip(arrays, qualities.tolist(), files, sizes.tolist(), decoded, strict=True)
        for array, quality, data, size, image in rows:
            assert data == opencv_encode(array, int(quality), subsampling, optimize=optimize), (height, quality)
            assert size == len(data)
            assert np.array_equal(to_uint8(image), decode(data)), (height, quality)


def test_same_files_when_float32_products_may_round() -> None:
    """With float32 matrix products allowed to use bfloat16 or TF32, the exact face's products run in
    float64 (color conversions elementwise) instead: the files and decoded pixels stay OpenCV's."""
    arrays = [synthetic_photo(seed, 29, 43, 3) for seed in range(3)]
    batch = torch.stack([from_uint8(a) for a in arrays])
    previous = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")
    try:
        files = encode_jpeg(batch, 85.0)
        decoded = jpeg_decode(jpeg_encode(batch, 85.0, mode="exact"), mode="exact")
    finally:
        torch.set_float32_matmul_precision(previous)
    assert files == [opencv_encode(array, 85) for array in arrays]
    for image, data in zip(decoded, files, strict=True):
        assert np.array_equal(to_uint8(image), decode(data))


def _edited(coefficients, **values):
    """Coefficients with luma values set: ``values`` maps "block_col,position" to a value (block row 0)."""
    from dataclasses import replace

    luma = coefficients.luma.clone()
    for key, value in values.items():
        col, position = map(int, key.split("_")[1:])
        luma[0, 0, 0, col, position] = value
    return replace(coefficients, luma=luma)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"at_0_5": 1024.0}, "AC coefficients must lie in"),
        ({"at_1_63": -1500.0}, "AC coefficients must lie in"),
        ({"at_0_0": 2048.0}, "DC coefficients must differ by at most 2047"),  # from predictor 0
        ({"at_0_0": -1500.0, "at_1_0": 1500.0}, "got a difference of 3000"),
    ],
)
def test_coefficients_a_baseline_scan_cannot_code_are_refused(values, match) -> None:
    """libjpeg refuses them ("DCT coefficient out of range"); they used to be clamped silently (a file
    of other coefficients)."""
    coefficients = _edited(jpeg_encode(torch.rand(1, 8, 16), 100.0, mode="exact"), **values)
    for call in (encode_jpeg, jpeg_file_size):
        with pytest.raises(ValueError, match=match):
            call(coefficients)


def test_dc_values_past_2047_with_codable_differences(tmp_path) -> None:
    """DC 2000 then 3500 (difference 1500): a valid baseline scan; the second DC used to be written as 2047."""
    from testing.reference import as_blocks, read_dct

    coefficients = _edited(jpeg_encode(torch.rand(1, 8, 16), 90.0, mode="exact"), at_0_0=2000.0, at_1_0=3500.0)
    data = encode_jpeg(coefficients)[0]
    assert torch.equal(as_blocks(read_dct(data, tmp_path).Y), coefficients.luma[0, 0].long())
    assert int(jpeg_file_size(coefficients)) == len(data)


@pytest.mark.parametrize("seed", range(3))
def test_byte_stuffing_on_every_device_path(seed: int) -> None:
    """The CPU's stuffing (NumPy) and the other devices' (a scatter) both put a 0x00 after every 0xFF byte:
    runs of 0xFF, one at the start and at the end, none at all."""
    from kornia_diffjpeg.io.scan import _flat_nonzero, _stuffed, _stuffed_by_scatter

    generator = torch.Generator().manual_seed(seed)
    cases = [
        torch.randint(250, 256, (500,), generator=generator, dtype=torch.uint8),  # many 0xFF, in runs
        torch.tensor([0xFF, 1, 0xFF, 0xFF, 0xFF], dtype=torch.uint8),
        torch.tensor([1, 2, 3], dtype=torch.uint8),
        torch.tensor([0xFF], dtype=torch.uint8),
    ]
    for data in cases:
        expected = bytes(data.tolist()).replace(b"\xff", b"\xff\x00")
        ff = _flat_nonzero(data == 0xFF)
        assert bytes(_stuffed(data, ff).tolist()) == expected
        assert bytes(_stuffed_by_scatter(data, ff).tolist()) == expected


def test_lists_of_images_of_any_size() -> None:
    """As ``torchvision.io.encode_jpeg`` takes them: each file is the one its image gives alone (and OpenCV's),
    with per-image qualities and tables, float and uint8, gray and RGB mixed; sizes in the list's order."""
    arrays = [synthetic_photo(seed, 16 + 5 * (seed % 3), 24, 3 if seed % 4 else 1) for seed in range(7)]
    images = [from_uint8(a) if seed % 2 else _as_uint8_tensor(a) for seed, a in enumerate(arrays)]
    qualities = torch.linspace(10, 95, len(images)).round()
    files = encode_jpeg(images, qualities)
    for array, image, quality, data in zip(arrays, images, qualities.tolist(), files, strict=True):
        assert data == encode_jpeg(image, quality)[0] == opencv_encode(array, int(quality))
    assert jpeg_file_size(images, qualities).tolist() == list(map(len, files))
    generator = torch.Generator().manual_seed(0)
    qt_y, qt_c = (torch.randint(1, 256, (len(images), 8, 8), generator=generator).float() for _ in range(2))
    files = encode_jpeg(images, qt_y=qt_y, qt_c=qt_c, optimize=True, writer="pillow")
    for i, (image, data) in enumerate(zip(images, files, strict=True)):
        assert data == encode_jpeg(image, qt_y=qt_y[i], qt_c=qt_c[i], optimize=True, writer="pillow")[0]
    assert encode_jpeg([], 50.0) == [] and jpeg_file_size([], 50.0).shape == (0,)


def test_lists_of_images_are_checked_image_by_image() -> None:
    good = torch.rand(3, 16, 16)
    bad = torch.rand(3, 8, 24)
    bad[0, 3, 3] = float("nan")
    nan_third = good.clone()
    nan_third[1, 2, 2] = float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # quantized tensors are deprecated in recent PyTorch
        quantized = torch.quantize_per_tensor(good, 0.1, 0, torch.quint8)
    for call in (encode_jpeg, jpeg_file_size):
        with pytest.raises(ValueError, match=r"image\[1\] must be finite"):  # in the second batch too
            call([good, bad, good], 50.0)
        # Named by its place in the list, with its own shape, not by its place in its batch of one size
        # ("sample 1 of 2" before) or the batch's shape.
        named = [
            ([good, bad, nan_third], ValueError, r"^image\[2\] must be finite \(images in \[0, 1\]\), got NaN$"),
            ([good, good[:2]], ValueError, r"image\[1\] must have 1 \(grayscale\) or 3 .*got shape \(2, 16, 16\)"),
            ([torch.zeros(3, 0, 8, dtype=torch.uint8)], ValueError, r"image\[0\] must have a non-empty spatial size"),
            ([good, good.short()], TypeError, r"image\[1\] must be float in \[0, 1\] or uint8 .*torch.int16"),
            ([quantized], TypeError, r"image\[0\] must be a dense \(strided\) tensor, got a quantized tensor"),
        ]
        for images, error, message in named:
            with pytest.raises(error, match=message):
                call(images, 50.0)
        with pytest.raises(ValueError, match=r"qt_y must be \(8, 8\) or one per image of the list, \(2, 8, 8\)"):
            call([good, bad], qt_y=torch.ones(64), qt_c=torch.ones(8, 8))
        # Per-image settings out of range are reported with the whole list's range, not one batch's.
        with pytest.raises(ValueError, match=r"quality must be finite and in \[0, 100\], got range \[50.0, 101.0\]"):
            call([good, bad], torch.tensor([101.0, 50.0]))
        tables = torch.stack([torch.full((8, 8), 300.0), torch.full((8, 8), 2.0)])
        with pytest.raises(ValueError, match=r"qt_y values must be finite and in \[1, 255\], got range \[2.0, 300.0\]"):
            call([good, bad], qt_y=tables, qt_c=torch.ones(8, 8))
        with pytest.raises(TypeError, match=r"image\[1\] must be a tensor"):
            call([good, good.numpy()], 50.0)
        with pytest.raises(ValueError, match=r"image\[0\] must have shape \(C, H, W\)"):
            call([good[None]], 50.0)
        with pytest.raises(ValueError, match="on one device"):
            call([good, good.to("meta")], 50.0)
        with pytest.raises(ValueError, match=r"quality must be a number or one per image of the list, \(2\)"):
            call([good, bad], torch.tensor([50.0, 60.0, 70.0]))
        with pytest.raises(ValueError, match=r"qt_y must be \(8, 8\) or one per image of the list, \(2, 8, 8\)"):
            call([good, good], qt_y=torch.ones(3, 8, 8), qt_c=torch.ones(8, 8))


def test_empty_lists_check_their_settings() -> None:
    """As an empty batch does: no file, but no bad setting passes unseen (an empty list returned [] whatever
    they were)."""
    for call in (encode_jpeg, jpeg_file_size):
        with pytest.raises(TypeError, match="quality must be a number or a tensor, got str"):
            call([], "75")
        with pytest.raises(ValueError, match="subsampling must be one of"):
            call([], 50.0, subsampling="4:1:1")
        with pytest.raises(TypeError, match="optimize must be a bool"):
            call([], 50.0, optimize=1)
        with pytest.raises(ValueError, match=r"qt_y values must be finite and in \[1, 255\]"):
            call([], 50.0, qt_y=torch.zeros(8, 8))
        with pytest.raises(ValueError, match=r"quality must be a number or one per image of the list, \(0\)"):
            call([], torch.tensor([50.0, 60.0]))
        with pytest.raises(ValueError, match="give a quality"):
            call([])
    assert encode_jpeg([], torch.zeros(0), qt_y=torch.ones(8, 8)) == []
    assert jpeg_file_size((), 50.0).shape == (0,)


def test_per_image_tables_as_arrays_in_lists() -> None:
    """Tables given as arrays or nested lists, one per image of a list of different sizes, are split per image as
    tensors are (they were taken for one shared table and refused with the shape of a batch of one)."""
    images = [torch.rand(3, 16, 16), torch.rand(1, 8, 24)]
    qt_y = np.stack([np.full((8, 8), 3.0), np.full((8, 8), 9.0)])
    qt_c = np.full((8, 8), 5).tolist()
    expected = encode_jpeg(images, qt_y=torch.from_numpy(qt_y), qt_c=torch.tensor(qt_c))
    assert encode_jpeg(images, qt_y=qt_y, qt_c=qt_c) == expected
    assert encode_jpeg(images, qt_y=qt_y.tolist(), qt_c=qt_c) == expected
    assert jpeg_file_size(images, qt_y=qt_y, qt_c=qt_c).tolist() == list(map(len, expected))
    assert expected[1] == encode_jpeg(images[1], qt_y=torch.full((8, 8), 9.0))[0]
    with pytest.raises(ValueError, match=r"qt_y must be \(8, 8\) or one per image of the list, \(2, 8, 8\)"):
        encode_jpeg(images, qt_y=np.ones((3, 8, 8)), qt_c=qt_c)


def test_non_contiguous_uint8_images_give_the_files_of_their_contiguous_copies() -> None:
    arrays = [synthetic_photo(seed, 21, 37, 3) for seed in range(2)]
    batch = torch.stack([_as_uint8_tensor(a) for a in arrays])
    views = {
        "channels_last": batch.contiguous(memory_format=torch.channels_last),
        "flipped": batch.flip(-1),
        "expanded": batch[:1].expand(3, -1, -1, -1),
        "broadcast rows": batch[:, :, :1].expand(-1, -1, 21, -1),
        "strided": batch[:, :, ::2, ::3],
        "transposed": batch.transpose(-1, -2),
    }
    for name, view in views.items():
        files = [encode_jpeg(image.contiguous(), 60.0)[0] for image in view]
        assert encode_jpeg(view, 60.0) == files, name
        assert encode_jpeg(list(view), 60.0) == files, name
        assert jpeg_file_size(view, 60.0).tolist() == list(map(len, files)), name
    flipped = batch[0].flip(-1)
    assert encode_jpeg(flipped, 60.0) == [opencv_encode(np.ascontiguousarray(arrays[0][:, ::-1]), 60)]


def test_coefficients_with_a_subsampling_that_is_no_layout() -> None:
    """Coefficients carry their subsampling, but an argument that names no layout is refused, not ignored."""
    coefficients = jpeg_encode(torch.rand(3, 16, 16), 50.0, mode="exact")
    for call in (encode_jpeg, jpeg_file_size):
        with pytest.raises(ValueError, match="subsampling must be one of"):
            call(coefficients, subsampling="420")


def test_fractional_coefficients_are_rounded_as_the_exact_decoder_rounds_them() -> None:
    """Halves away from zero, as ``jpeg_decode(mode="exact")`` rounds them (the file held 2 for 2.5 before):
    the file's decode is the coefficients' exact decode, and its size is the file's length."""
    coefficients = jpeg_encode(torch.rand(2, 3, 16, 24), 60.0, mode="exact")
    coefficients.luma = coefficients.luma.clone()
    coefficients.luma[:, 0, 0, 0, 1:7] = torch.tensor([2.5, -2.5, 0.5, -0.5, 3.49, -3.51])
    files = encode_jpeg(coefficients)
    read = decode_jpeg(files)
    assert read.luma[:, 0, 0, 0, 1:7].tolist() == [[3.0, -3.0, 1.0, -1.0, 3.0, -4.0]] * 2
    assert torch.equal(jpeg_decode(read, mode="exact"), jpeg_decode(coefficients, mode="exact"))
    assert jpeg_file_size(coefficients).tolist() == list(map(len, files))


@pytest.mark.parametrize("optimize", [False, True])
def test_files_on_the_device(device: torch.device, optimize: bool) -> None:
    """Files written from images on the tested device (``pytest --device cuda``): OpenCV's bytes from float and
    uint8 images, sizes on that device, and coefficients read back onto it."""
    arrays = [synthetic_photo(seed, 37, 53, 3) for seed in range(3)]
    floats = torch.stack([from_uint8(a) for a in arrays]).to(device)
    samples = torch.stack([_as_uint8_tensor(a) for a in arrays]).to(device)
    qualities = torch.tensor([20.0, 75.0, 95.0], device=device)
    files = encode_jpeg(floats, qualities, optimize=optimize)
    assert files == encode_jpeg(samples, qualities, optimize=optimize)
    for array, quality, data in zip(arrays, qualities.tolist(), files, strict=True):
        assert data == opencv_encode(array, int(quality), optimize=optimize)
    sizes = jpeg_file_size(samples, qualities, optimize=optimize)
    assert sizes.device == floats.device and sizes.tolist() == list(map(len, files))
    read = decode_jpeg(files, device=device)
    assert read.luma.device == floats.device
    assert torch.equal(read.luma, jpeg_encode(floats, qualities, mode="exact").luma)
