"""mode="exact": pixel for pixel libjpeg-turbo (OpenCV and Pillow), coefficient for coefficient the real file (jpeglib).

Every comparison here is an equality: 0 differing pixels, 0 differing coefficients. The references
code ``u8 = round(255 * image)``; images built from uint8 arrays (``from_uint8``) read back as
exactly those arrays. Gradients are those of the smooth face (``mode="surrogate"``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from kornia_diffjpeg import DiffJPEGCodec, JPEGCoefficients, diff_jpeg, jpeg_decode, jpeg_encode
from kornia_diffjpeg.codec import jfif_color
from kornia_diffjpeg.codec.tables import ANNEX_K_CHROMA, ANNEX_K_LUMA
from testing.datasets import small_crop as load_photo
from testing.reference import (
    as_blocks,
    from_uint8,
    opencv_encode,
    opencv_jpeg,
    pillow_encode,
    pillow_jpeg,
    read_dct,
    to_uint8,
)

SUBSAMPLINGS = ("4:2:0", "4:2:2", "4:4:4")
LAYOUTS = (*SUBSAMPLINGS, "gray")  # "gray": one-channel input, no chroma
KINDS = ("noise", "flat", "gradient", "saturated", "mix")


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _subsampling(layout: str) -> str:
    """The subsampling argument of a layout (grayscale images ignore it)."""
    return "4:2:0" if layout == "gray" else layout


def _channels(layout: str) -> int:
    return 1 if layout == "gray" else 3


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def make_content(kind: str, height: int, width: int, channels: int, seed: int) -> np.ndarray:
    """A uint8 image, (H, W, 3) or (H, W), of one kind of content."""
    rng = np.random.default_rng(seed)
    shape = (height, width, channels)
    if kind == "noise":
        out = rng.integers(0, 256, shape)
    elif kind == "flat":
        out = np.broadcast_to(rng.integers(0, 256, channels), shape)
    elif kind == "gradient":  # a ramp per channel in a random direction, clipped at 0 and 255
        y = np.linspace(0.0, 1.0, height)[:, None, None]
        x = np.linspace(0.0, 1.0, width)[None, :, None]
        start, (slope_y, slope_x) = rng.uniform(0, 255, channels), rng.uniform(-400, 400, (2, channels))
        out = np.clip(np.round(start + slope_y * y + slope_x * x), 0, 255)
    elif kind == "saturated":  # cells of primary and secondary colors (each channel 0 or 255), black, white
        cell = int(rng.integers(1, 9))
        grid = rng.choice(np.array([0, 255]), (_ceil_div(height, cell), _ceil_div(width, cell), channels))
        out = grid.repeat(cell, 0).repeat(cell, 1)[:height, :width]
    elif kind == "mix":  # 4x4 cells, each taken from one of the other kinds
        parts = [make_content(k, height, width, channels, seed + i) for i, k in enumerate(KINDS[:-1])]
        parts = np.stack([p.reshape(height, width, channels) for p in parts])
        labels = rng.integers(0, len(parts), (_ceil_div(height, 4), _ceil_div(width, 4)))
        labels = labels.repeat(4, 0).repeat(4, 1)[:height, :width]
        out = np.take_along_axis(parts, labels[None, :, :, None], axis=0)[0]
    else:
        raise ValueError(kind)
    out = np.ascontiguousarray(out.astype(np.uint8))
    return out[..., 0] if channels == 1 else out


@st.composite
def uint8_images(draw, channels: int) -> np.ndarray:
    height, width = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    kind = draw(st.sampled_from(KINDS))
    return make_content(kind, height, width, channels, draw(st.integers(0, 2**32 - 1)))


def as_batch(*arrays: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    return torch.stack([from_uint8(a) for a in arrays]).to(device)


def exact(
    array: np.ndarray, quality=None, subsampling: str = "4:2:0", device: torch.device | str = "cpu", **kwargs
) -> np.ndarray:
    """diff_jpeg(mode="exact") of one uint8 image on ``device``, back as uint8 in the codecs' layout (on the CPU)."""
    kwargs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    if isinstance(quality, torch.Tensor):
        quality = quality.to(device)
    coded = diff_jpeg(as_batch(array, device=device), quality, mode="exact", subsampling=subsampling, **kwargs)
    return to_uint8(coded[0])


def assert_same(ours: np.ndarray, reference: np.ndarray, context: str = "") -> None:
    """0 differing pixels (a pixel differs if any of its channels does)."""
    assert ours.shape == reference.shape, f"{context}: shape {ours.shape} != {reference.shape}"
    differs = ours != reference
    if differs.ndim == 3:
        differs = differs.any(axis=-1)
    count = int(differs.sum())
    if count:
        first = tuple(int(i) for i in np.argwhere(differs)[0])
        worst = int(np.abs(ours.astype(np.int64) - reference.astype(np.int64)).max())
        raise AssertionError(f"{context}: {count} of {differs.size} pixels differ (max |diff| {worst}), first {first}")


def libjpeg_quality_table(base, quality: int) -> np.ndarray:
    """``jpeg_set_quality(..., force_baseline=TRUE)`` of a base table (jcparam.c), written out independently."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((np.asarray(base, np.int64) * scale + 50) // 100, 1, 255)


def random_table(rng: np.random.Generator, low: int = 1, high: int = 255) -> np.ndarray:
    return rng.integers(low, high + 1, (8, 8))


def as_integers(t: torch.Tensor) -> torch.Tensor:
    assert t.is_floating_point() and torch.equal(t, t.round()), "coefficients and tables must be integer-valued"
    return t.long()


# --------------------------------------------------------------------------------------------------
# Random images (Hypothesis): every size, content, quality and layout against OpenCV and Pillow
# --------------------------------------------------------------------------------------------------


class TestRandomImages:
    @given(data=st.data(), quality=st.integers(1, 100), subsampling=st.sampled_from(SUBSAMPLINGS))
    def test_color(self, data, quality, subsampling, device):
        array = data.draw(uint8_images(3), label="array")
        ours = exact(array, float(quality), subsampling, device)
        assert_same(ours, opencv_jpeg(array, quality, subsampling), f"OpenCV q={quality} {subsampling}")
        assert_same(ours, pillow_jpeg(array, quality, subsampling), f"Pillow q={quality} {subsampling}")

    @given(data=st.data(), quality=st.integers(1, 100))
    def test_grayscale(self, data, quality, device):
        array = data.draw(uint8_images(1), label="array")
        ours = exact(array, float(quality), device=device)
        assert ours.ndim == 2
        assert_same(ours, opencv_jpeg(array, quality), f"OpenCV q={quality}")
        assert_same(ours, pillow_jpeg(array, quality), f"Pillow q={quality}")

    @given(
        data=st.data(),
        layout=st.sampled_from(LAYOUTS),
        bounds=st.sampled_from([(1, 1), (1, 4), (1, 255), (2, 40), (100, 255), (255, 255)]),
        seed=st.integers(0, 2**32 - 1),
    )
    def test_custom_tables(self, data, layout, bounds, seed, device):
        # Tables used as given (no quality), against Pillow's qtables= (natural order).
        array = data.draw(uint8_images(_channels(layout)), label="array")
        rng = np.random.default_rng(seed)
        luma, chroma = random_table(rng, *bounds), random_table(rng, *bounds)
        subsampling = _subsampling(layout)
        qt_y, qt_c = torch.from_numpy(luma).float(), torch.from_numpy(chroma).float()
        ours = exact(array, qt_y=qt_y, qt_c=qt_c, subsampling=subsampling, device=device)
        assert_same(ours, pillow_jpeg(array, subsampling=subsampling, qtables=[luma, chroma]), f"tables {bounds}")


# --------------------------------------------------------------------------------------------------
# Photos: every quality
# --------------------------------------------------------------------------------------------------


class TestPhotos:
    def test_every_quality(self, photo, device):
        # The 100 qualities in one batch, one per sample.
        layouts = ("4:2:0", "4:4:4") if photo.ndim == 3 else ("gray",)
        image = as_batch(photo, device=device).expand(100, -1, -1, -1)
        qualities = torch.arange(1.0, 101.0, device=device)
        for layout in layouts:
            subsampling = _subsampling(layout)
            coded = diff_jpeg(image, qualities, mode="exact", subsampling=subsampling)
            for q in range(1, 101):
                assert_same(to_uint8(coded[q - 1]), opencv_jpeg(photo, q, subsampling), f"q={q} {layout}")

    @pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
    def test_odd_sized_photo(self, odd_photo, subsampling, device):
        # 37x53: partial blocks and MCUs in every layout.
        qualities = (1, 5, 20, 49, 50, 51, 75, 90, 99, 100)
        coded = diff_jpeg(
            as_batch(odd_photo, device=device).expand(len(qualities), -1, -1, -1),
            torch.tensor(qualities, device=device),
            mode="exact",
            subsampling=subsampling,
        )
        for image, q in zip(coded, qualities, strict=True):
            assert_same(to_uint8(image), pillow_jpeg(odd_photo, q, subsampling), f"q={q}")


# --------------------------------------------------------------------------------------------------
# Per-sample qualities and tables in one batch: each sample is its own real file
# --------------------------------------------------------------------------------------------------


def _batch_of_contents(layout: str, height: int = 19, width: int = 27) -> list[np.ndarray]:
    return [make_content(kind, height, width, _channels(layout), seed) for seed, kind in enumerate(KINDS)]


class TestPerSample:
    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_qualities(self, layout, device):
        arrays = _batch_of_contents(layout)
        qualities = torch.tensor([3, 35, 50, 77, 100], dtype=torch.float32, device=device)
        subsampling = _subsampling(layout)
        coded = diff_jpeg(as_batch(*arrays, device=device), qualities, mode="exact", subsampling=subsampling)
        for i, (array, q) in enumerate(zip(arrays, qualities.int().tolist(), strict=True)):
            assert_same(to_uint8(coded[i]), opencv_jpeg(array, q, subsampling), f"sample {i} q={q}")

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_tables(self, layout, device):
        arrays = _batch_of_contents(layout)
        rng = np.random.default_rng(1)
        lumas = np.stack([random_table(rng, 1, high) for high in (1, 8, 64, 255, 255)])
        chromas = np.stack([random_table(rng, low, 255) for low in (1, 2, 50, 200, 255)])
        subsampling = _subsampling(layout)
        coded = diff_jpeg(
            as_batch(*arrays, device=device),
            qt_y=torch.from_numpy(lumas).float().to(device),
            qt_c=torch.from_numpy(chromas).float().to(device),
            mode="exact",
            subsampling=subsampling,
        )
        for i, array in enumerate(arrays):
            reference = pillow_jpeg(array, subsampling=subsampling, qtables=[lumas[i], chromas[i]])
            assert_same(to_uint8(coded[i]), reference, f"sample {i}")

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_tables_scaled_by_quality(self, layout):
        # Base tables with a quality are scaled as libjpeg scales its Annex K tables.
        arrays = _batch_of_contents(layout)
        rng = np.random.default_rng(2)
        bases_y, bases_c = (np.stack([random_table(rng) for _ in arrays]) for _ in range(2))
        qualities = [1, 25, 50, 51, 100]
        subsampling = _subsampling(layout)
        coefficients = jpeg_encode(
            as_batch(*arrays),
            torch.tensor(qualities),
            qt_y=torch.from_numpy(bases_y),
            qt_c=torch.from_numpy(bases_c),
            mode="exact",
            subsampling=subsampling,
        )
        coded = jpeg_decode(coefficients, mode="exact")
        for i, (array, q) in enumerate(zip(arrays, qualities, strict=True)):
            luma, chroma = libjpeg_quality_table(bases_y[i], q), libjpeg_quality_table(bases_c[i], q)
            assert torch.equal(as_integers(coefficients.qt_y[i]), torch.from_numpy(luma))
            if layout != "gray":
                assert torch.equal(as_integers(coefficients.qt_c[i]), torch.from_numpy(chroma))
            reference = pillow_jpeg(array, subsampling=subsampling, qtables=[luma, chroma])
            assert_same(to_uint8(coded[i]), reference, f"sample {i} q={q}")

    def test_luma_table_with_quality_and_standard_chroma(self):
        # qt_y alone with a quality: the chroma table is libjpeg's scaled Annex K table.
        array = make_content("mix", 24, 33, 3, 16)
        base = random_table(np.random.default_rng(17))
        ours = exact(array, 30.0, qt_y=torch.from_numpy(base).float())
        tables = [libjpeg_quality_table(base, 30), libjpeg_quality_table(ANNEX_K_CHROMA, 30)]
        assert_same(ours, pillow_jpeg(array, qtables=tables))

    def test_tables_of_every_quality(self):
        coefficients = jpeg_encode(torch.zeros(100, 3, 8, 8), torch.arange(1.0, 101.0), mode="exact")
        for q in range(1, 101):
            assert torch.equal(
                as_integers(coefficients.qt_y[q - 1]), torch.from_numpy(libjpeg_quality_table(ANNEX_K_LUMA, q))
            ), q
            assert torch.equal(
                as_integers(coefficients.qt_c[q - 1]), torch.from_numpy(libjpeg_quality_table(ANNEX_K_CHROMA, q))
            ), q


# --------------------------------------------------------------------------------------------------
# Tiny images: chroma planes 1 to 3 pixels wide (plain replication below 3), 1x1
# --------------------------------------------------------------------------------------------------


class TestTinyImages:
    @pytest.mark.parametrize("width", range(1, 7))
    @pytest.mark.parametrize("subsampling", ["4:2:0", "4:2:2"])
    def test_narrow_chroma(self, subsampling, width):
        for height in (1, 2, 3, 4, 5, 9, 17):
            for seed, kind in enumerate(("noise", "saturated", "gradient")):
                array = make_content(kind, height, width, 3, seed)
                q = (5, 50, 95)[seed]
                ours = exact(array, float(q), subsampling)
                context = f"{height}x{width} {kind} q={q}"
                assert_same(ours, opencv_jpeg(array, q, subsampling), "OpenCV " + context)
                assert_same(ours, pillow_jpeg(array, q, subsampling), "Pillow " + context)

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_one_pixel(self, layout):
        rng = np.random.default_rng(3)
        values = [0, 255, 128, *rng.integers(0, 256, (5, _channels(layout)))]
        for value in values:
            array = np.broadcast_to(np.asarray(value, np.uint8), (1, 1, _channels(layout))).copy()
            array = array[..., 0] if layout == "gray" else array
            for q in (1, 50, 100):
                ours = exact(array, float(q), _subsampling(layout))
                assert_same(ours, opencv_jpeg(array, q, _subsampling(layout)), f"value {value} q={q}")


# --------------------------------------------------------------------------------------------------
# Coefficients: equal to the real file's (jpeglib), and decoded like the real decoder
# --------------------------------------------------------------------------------------------------


def _photo(layout: str) -> np.ndarray:
    return load_photo("camera" if layout == "gray" else "astronaut", 37, 53)


class TestCoefficients:
    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_equal_file_coefficients(self, layout, tmp_path):
        array, subsampling = _photo(layout), _subsampling(layout)
        for q in (1, 10, 50, 75, 95, 100):
            ours = jpeg_encode(as_batch(array), float(q), mode="exact", subsampling=subsampling)
            file = read_dct(opencv_encode(array, q, subsampling), tmp_path)
            context = f"q={q} {layout}"
            assert ours.luma.shape == (1, 1, *file.Y.shape[:2], 64), context
            assert torch.equal(as_integers(ours.luma[0, 0]), as_blocks(file.Y)), context
            assert torch.equal(as_integers(ours.qt_y[0]), torch.from_numpy(file.qt[file.quant_tbl_no[0]]).long())
            if layout == "gray":
                assert ours.chroma is None and ours.qt_c is None and file.Cb is None
                continue
            assert ours.chroma.shape == (1, 2, *file.Cb.shape[:2], 64), context
            assert torch.equal(as_integers(ours.chroma[0, 0]), as_blocks(file.Cb)), context
            assert torch.equal(as_integers(ours.chroma[0, 1]), as_blocks(file.Cr)), context
            assert torch.equal(as_integers(ours.qt_c[0]), torch.from_numpy(file.qt[file.quant_tbl_no[1]]).long())

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_equal_file_coefficients_custom_tables(self, layout, tmp_path):
        array, subsampling = _photo(layout), _subsampling(layout)
        rng = np.random.default_rng(4)
        luma, chroma = random_table(rng, 1, 30), random_table(rng, 1, 255)
        ours = jpeg_encode(
            as_batch(array),
            qt_y=torch.from_numpy(luma),
            qt_c=torch.from_numpy(chroma),
            mode="exact",
            subsampling=subsampling,
        )
        file = read_dct(pillow_encode(array, subsampling=subsampling, qtables=[luma, chroma]), tmp_path)
        assert torch.equal(as_integers(ours.luma[0, 0]), as_blocks(file.Y))
        if layout != "gray":
            assert torch.equal(as_integers(ours.chroma[0]), torch.stack([as_blocks(file.Cb), as_blocks(file.Cr)]))

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_decode_file_coefficients(self, layout, tmp_path):
        # The exact decoder alone, fed the real file's coefficients, gives the real decoder's pixels.
        array, subsampling = _photo(layout), _subsampling(layout)
        for q in (2, 30, 85, 100):
            data = opencv_encode(array, q, subsampling)
            file = read_dct(data, tmp_path)
            chroma = None if layout == "gray" else torch.stack([as_blocks(file.Cb), as_blocks(file.Cr)])[None].float()
            coefficients = JPEGCoefficients(
                luma=as_blocks(file.Y)[None, None].float(),
                chroma=chroma,
                qt_y=torch.from_numpy(file.qt[file.quant_tbl_no[0]])[None].float(),
                qt_c=None if layout == "gray" else torch.from_numpy(file.qt[file.quant_tbl_no[1]])[None].float(),
                subsampling=subsampling,
                image_size=array.shape[:2],
            )
            decoded = jpeg_decode(coefficients, mode="exact")
            assert_same(to_uint8(decoded[0]), opencv_jpeg(array, q, subsampling), f"q={q}")

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_unbatched_shapes(self, layout):
        image = from_uint8(make_content("noise", 21, 35, _channels(layout), 0))
        coefficients = jpeg_encode(image, 60.0, mode="exact", subsampling=_subsampling(layout))
        assert coefficients.batch_shape == ()
        assert coefficients.luma.shape == (1, 1, 3, 5, 64)
        if layout != "gray":
            rows, cols = {"4:2:0": (2, 3), "4:2:2": (3, 3), "4:4:4": (3, 5)}[layout]
            assert coefficients.chroma.shape == (1, 2, rows, cols, 64)


# --------------------------------------------------------------------------------------------------
# Qualities and tables that are not integers: the nearest integer, halves up
# --------------------------------------------------------------------------------------------------


class TestNonIntegerArguments:
    @pytest.mark.parametrize(
        ("quality", "nearest"),
        [(1.2, 1), (1.5, 2), (24.49, 24), (37.5, 38), (49.5, 50), (50.4999, 50), (50.5, 51), (74.6, 75), (99.5, 100)],
    )
    @pytest.mark.parametrize("layout", ["4:2:0", "gray"])
    def test_quality_is_rounded(self, quality, nearest, layout):
        array = make_content("mix", 23, 30, _channels(layout), 5)
        subsampling = _subsampling(layout)
        reference = opencv_jpeg(array, nearest, subsampling)
        assert_same(exact(array, quality, subsampling), reference, "number")
        assert_same(exact(array, torch.tensor(quality), subsampling), reference, "float32 tensor")
        assert_same(exact(array, torch.tensor(quality, dtype=torch.float64), subsampling), reference, "float64")

    def test_per_sample_fractional_qualities(self):
        arrays = _batch_of_contents("4:2:2")
        qualities = torch.tensor([1.49, 10.5, 50.5, 89.51, 99.5])
        coded = diff_jpeg(as_batch(*arrays), qualities, mode="exact", subsampling="4:2:2")
        for i, (array, q) in enumerate(zip(arrays, (1, 11, 51, 90, 100), strict=True)):
            assert_same(to_uint8(coded[i]), opencv_jpeg(array, q, "4:2:2"), f"sample {i}")

    @pytest.mark.parametrize("layout", ["4:4:4", "gray"])
    def test_tables_are_rounded(self, layout):
        rng = np.random.default_rng(6)
        integers = random_table(rng, 2, 254), random_table(rng, 2, 254)
        offsets = rng.choice(np.array([-0.5, -0.25, 0.0, 0.3, 0.4999, 0.5]), (2, 8, 8))
        given_y, given_c = (torch.from_numpy(t + o) for t, o in zip(integers, offsets, strict=True))
        nearest = [t + (o == 0.5) for t, o in zip(integers, offsets, strict=True)]  # halves up
        array = make_content("noise", 16, 24, _channels(layout), 7)
        subsampling = _subsampling(layout)
        ours = exact(array, qt_y=given_y, qt_c=given_c, subsampling=subsampling)
        assert_same(ours, pillow_jpeg(array, subsampling=subsampling, qtables=nearest))
        coefficients = jpeg_encode(as_batch(array), qt_y=given_y, qt_c=given_c, mode="exact", subsampling=subsampling)
        assert torch.equal(as_integers(coefficients.qt_y[0]), torch.from_numpy(nearest[0]))


# --------------------------------------------------------------------------------------------------
# Dtypes, shapes and the two forward paths
# --------------------------------------------------------------------------------------------------


class TestForms:
    @pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
    @pytest.mark.parametrize("layout", ["4:2:0", "gray"])
    def test_dtypes(self, dtype, layout):
        array = make_content("mix", 29, 22, _channels(layout), 8)
        image = as_batch(array).to(dtype)
        coded = diff_jpeg(image, 45.0, mode="exact", subsampling=_subsampling(layout))
        assert coded.dtype == dtype and coded.shape == image.shape
        assert_same(to_uint8(coded[0]), opencv_jpeg(array, 45, _subsampling(layout)))
        with_grad = diff_jpeg(image.requires_grad_(), 45.0, mode="exact", subsampling=_subsampling(layout))
        assert with_grad.dtype == dtype and torch.equal(with_grad, coded)

    @pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
    def test_values_between_gray_levels(self, dtype):
        # Inputs that are not multiples of 1/255 are read as round(255 * image), like to_uint8.
        image = torch.rand(1, 3, 24, 31, generator=torch.Generator().manual_seed(9), dtype=torch.float64).to(dtype)
        array = to_uint8(image[0])
        coded = diff_jpeg(image, 70.0, mode="exact", subsampling="4:2:2")
        assert_same(to_uint8(coded[0]), opencv_jpeg(array, 70, "4:2:2"))

    def test_float32_half_gray_levels(self):
        values = [np.nextafter(np.float32((k + 0.5) / 255), np.float32(-1)) for k in (0, 128, 200)]
        image = torch.tensor(values, dtype=torch.float32).view(1, 1, 1, 3).expand(1, 3, 8, 3).contiguous()
        array = to_uint8(image[0])
        assert_same(
            to_uint8(diff_jpeg(image, 90.0, mode="exact", subsampling="4:4:4")[0]), opencv_jpeg(array, 90, "4:4:4")
        )

    def test_quality_just_below_a_half_with_float32_image(self):
        array = make_content("noise", 16, 16, 3, 15)
        reference = opencv_jpeg(array, 50)
        assert_same(exact(array, 50.4999999), reference, "float32 image")

    def test_quality_just_below_a_half_with_float64_image(self):
        array = make_content("noise", 16, 16, 3, 15)
        coded = diff_jpeg(as_batch(array).double(), 50.4999999, mode="exact")
        assert_same(to_uint8(coded[0]), opencv_jpeg(array, 50))

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_unbatched(self, layout):
        array = make_content("noise", 17, 26, _channels(layout), 10)
        image = from_uint8(array)
        coded = diff_jpeg(image, 33.0, mode="exact", subsampling=_subsampling(layout))
        assert coded.shape == image.shape
        assert torch.equal(coded, diff_jpeg(image[None], 33.0, mode="exact", subsampling=_subsampling(layout))[0])
        assert_same(to_uint8(coded), opencv_jpeg(array, 33, _subsampling(layout)))

    @pytest.mark.parametrize("layout", LAYOUTS)
    @pytest.mark.parametrize("wrt", ["image", "quality", "tables"])
    def test_grad_and_no_grad_paths_agree(self, layout, wrt):
        # With gradients the exact values ride on the smooth face (straight-through); without, only the exact face runs.
        image = as_batch(*_batch_of_contents(layout, 20, 23)[:3])
        quality = None if wrt == "tables" else torch.tensor([15.0, 50.0, 88.0])
        qt_y = torch.from_numpy(random_table(np.random.default_rng(11), 1, 99)).double() if wrt == "tables" else None
        qt_c = None if qt_y is None else qt_y.flip(0)
        {"image": image, "quality": quality, "tables": qt_y}[wrt].requires_grad_()
        kwargs = {"qt_y": qt_y, "qt_c": qt_c, "mode": "exact", "subsampling": _subsampling(layout)}
        with_grad = diff_jpeg(image, quality, **kwargs)
        assert with_grad.requires_grad
        with torch.no_grad():
            without = diff_jpeg(image, quality, **kwargs)
        detached = diff_jpeg(
            image.detach(),
            None if quality is None else quality.detach(),
            **{**kwargs, "qt_y": None if qt_y is None else qt_y.detach()},
        )
        assert not without.requires_grad and not detached.requires_grad
        assert torch.equal(with_grad, without) and torch.equal(with_grad, detached)
        encoded = [jpeg_encode(image, quality, **kwargs)]
        with torch.no_grad():
            encoded.append(jpeg_encode(image, quality, **kwargs))
        for name in ("luma", "chroma", "qt_y", "qt_c"):
            a, b = (getattr(c, name) for c in encoded)
            assert (a is None and b is None) or torch.equal(a, b), name

    def test_module_form(self):
        array = make_content("mix", 18, 40, 3, 12)
        codec = DiffJPEGCodec(mode="exact", subsampling="4:2:2")
        assert_same(to_uint8(codec(as_batch(array), 64.0)[0]), pillow_jpeg(array, 64, "4:2:2"))

    @pytest.mark.parametrize("layout", ["4:2:0", "gray"])
    def test_color_is_rejected(self, layout):
        image = as_batch(make_content("noise", 8, 8, _channels(layout), 13))
        color = jfif_color()
        calls = {
            "diff_jpeg": lambda: diff_jpeg(image, 50.0, mode="exact", color=color),
            "jpeg_encode": lambda: jpeg_encode(image, 50.0, mode="exact", color=color),
            "jpeg_decode": lambda: jpeg_decode(jpeg_encode(image, 50.0, mode="exact"), mode="exact", color=color),
            "module": lambda: DiffJPEGCodec(mode="exact")(image, 50.0, color=color),
        }
        for name, call in calls.items():
            with pytest.raises(ValueError, match="color") as error:
                call()
            assert "exact" in str(error.value), name


# --------------------------------------------------------------------------------------------------
# Gradients: the smooth face's
# --------------------------------------------------------------------------------------------------


def _gradients(mode: str, image, quality, qt_y, qt_c, subsampling: str, quality_gradient: str = "finite_difference"):
    """diff_jpeg's output and the gradients of a fixed weighted sum w.r.t. each given input."""
    leaves = [None if t is None else t.detach().clone().requires_grad_() for t in (image, quality, qt_y, qt_c)]
    coded = diff_jpeg(
        *leaves[:2],
        qt_y=leaves[2],
        qt_c=leaves[3],
        mode=mode,
        subsampling=subsampling,
        quality_gradient=quality_gradient,
    )
    weights = torch.linspace(-1.0, 2.0, coded.numel(), dtype=coded.dtype).reshape(coded.shape)
    (coded * weights).sum().backward()
    return coded, [None if leaf is None else leaf.grad for leaf in leaves]


def _inputs(layout: str, tables: bool, low: float = 0.0, high: float = 1.0, quality=(20.0, 50.0, 90.0)):
    generator = torch.Generator().manual_seed(14)
    image = low + (high - low) * torch.rand(3, _channels(layout), 19, 26, generator=generator, dtype=torch.float64)
    qt_y = torch.randint(1, 120, (3, 8, 8), generator=generator).double() if tables else None
    qt_c = torch.randint(1, 120, (3, 8, 8), generator=generator).double() if tables else None
    return image, torch.tensor(quality, dtype=torch.float64), qt_y, qt_c


class TestGradients:
    @pytest.mark.parametrize("layout", LAYOUTS)
    @pytest.mark.parametrize("form", ["quality", "quality+tables", "tables"])
    def test_finite_and_nonzero(self, layout, form):
        image, quality, qt_y, qt_c = _inputs(layout, tables=form != "quality")
        quality = None if form == "tables" else quality
        qt_c = None if layout == "gray" else qt_c
        _, grads = _gradients("exact", image, quality, qt_y, qt_c, _subsampling(layout))
        for name, grad in zip(("image", "quality", "qt_y", "qt_c"), grads, strict=True):
            if grad is None:
                continue
            assert torch.isfinite(grad).all(), name
            per_sample = grad.abs().reshape(grad.shape[0], -1).amax(dim=1)
            assert (per_sample > 0).all(), f"{name}: a sample has zero gradient {per_sample.tolist()}"

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_image_gradient_equals_surrogate_away_from_clipping(self, layout):
        # Integer qualities and mid-range content: no sample is clipped in either face.
        image, quality, _, _ = _inputs(layout, tables=False, low=0.3, high=0.7, quality=(1.0, 40.0, 95.0))
        _, (exact_grad, *_) = _gradients("exact", image, quality, None, None, _subsampling(layout))
        _, (smooth_grad, *_) = _gradients("surrogate", image, quality, None, None, _subsampling(layout))
        assert torch.isfinite(exact_grad).all() and exact_grad.abs().max() > 0
        difference = (exact_grad - smooth_grad).abs().max().item()
        assert torch.allclose(exact_grad, smooth_grad), f"max |diff| {difference:.3g}"

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_gradients_equal_surrogate(self, layout):
        image, quality, qt_y, qt_c = _inputs(layout, tables=True, quality=(3.0, 37.3, 90.0))
        qt_c = None if layout == "gray" else qt_c
        # The quality's default gradient is each mode's own finite difference (tests/codec/test_quality_gradient.py);
        # with quality_gradient="surrogate" every gradient is the smooth face's.
        exact_coded, exact_grads = _gradients("exact", image, quality, qt_y, qt_c, _subsampling(layout), "surrogate")
        smooth_coded, smooth_grads = _gradients(
            "surrogate", image, quality, qt_y, qt_c, _subsampling(layout), "surrogate"
        )
        assert exact_coded.shape == smooth_coded.shape
        mismatches = []
        for name, a, b in zip(("image", "quality", "qt_y", "qt_c"), exact_grads, smooth_grads, strict=True):
            assert (a is None) == (b is None), name
            if a is None:
                continue
            assert bool(torch.isfinite(a).all()) and bool(a.abs().max() > 0), name
            if not torch.allclose(a, b):
                mismatches.append(f"{name} (max |diff| {(a - b).abs().max().item():.3g} of {b.abs().max().item():.3g})")
        assert not mismatches, "gradients differ from mode='surrogate': " + ", ".join(mismatches)


def test_pixels_at_the_8_bit_rounding_boundaries():
    """Float32 pixels within a few ulps of each half gray level ((2k + 1) / 510, and 1/2 itself) are read as
    ``floor(255 x + 1/2)`` in exact rational arithmetic: the coded file is OpenCV's of those 8-bit values."""
    from fractions import Fraction

    centres = torch.tensor([(2 * k + 1) / 510 for k in range(255)], dtype=torch.float32)
    values = [centres]
    up, down = centres.clone(), centres.clone()
    for _ in range(4):
        up, down = torch.nextafter(up, torch.tensor(2.0)), torch.nextafter(down, torch.tensor(-1.0))
        values += [up, down]
    pixels = torch.cat(values).reshape(1, 1, 45, 51)  # 255 * 9 values
    expected = np.array(
        [min(255, int(Fraction(float(v)) * 255 + Fraction(1, 2))) for v in pixels.flatten().tolist()], np.uint8
    ).reshape(45, 51)
    per_centre = expected.reshape(9, 255)
    assert (per_centre.min(0) < per_centre.max(0)).all()  # each centre's values straddle its half
    coded = diff_jpeg(pixels, 90.0, mode="exact")
    np.testing.assert_array_equal(to_uint8(coded[0]), opencv_jpeg(expected, 90))


def _libjpeg_colour(triples: np.ndarray, inverse: bool) -> np.ndarray:
    """``jccolor.c`` (RGB to YCbCr) or ``jdcolor.c`` (YCbCr to RGB, range-limited) in int64 fixed point."""

    def fix(x: float) -> int:
        return int(x * 65536 + 0.5)

    a, b, c = (triples[:, i].astype(np.int64) for i in range(3))
    half = 1 << 15
    if not inverse:
        rounding = (128 << 16) + half - 1
        luma = (fix(0.299) * a + fix(0.587) * b + fix(0.114) * c + half) >> 16
        cb = (-fix(0.16874) * a - fix(0.33126) * b + fix(0.5) * c + rounding) >> 16
        cr = (fix(0.5) * a - fix(0.41869) * b - fix(0.08131) * c + rounding) >> 16
        return np.stack([luma, cb, cr], 1)
    cb, cr = b - 128, c - 128
    red = a + ((fix(1.402) * cr + half) >> 16)
    green = a + ((-fix(0.34414) * cb - fix(0.71414) * cr + half) >> 16)
    blue = a + ((fix(1.772) * cb + half) >> 16)
    return np.clip(np.stack([red, green, blue], 1), 0, 255)


@pytest.mark.slow
@pytest.mark.parametrize("inverse", [False, True], ids=["rgb_to_ycbcr", "ycbcr_to_rgb"])
def test_colour_conversions_equal_libjpeg_for_every_8_bit_triple(inverse: bool):
    """The exact face's colour conversions (one float32 product each on the CPU, the elementwise formulas
    elsewhere) equal libjpeg's integer arithmetic for all 2**24 triples of 8-bit values."""
    from kornia_diffjpeg.codec import exact

    levels = np.arange(256)
    for first in range(0, 256, 64):  # in parts of 2**22 triples
        grid = np.stack(np.meshgrid(levels[first : first + 64], levels, levels, indexing="ij"), -1).reshape(-1, 3)
        samples = torch.from_numpy(grid.T.astype(np.float32)).reshape(1, 3, -1, 1)
        expected = _libjpeg_colour(grid, inverse)
        for fused in (True, False):
            if inverse:  # the fused form takes the chroma centered (the upsampling's bias row does it)
                luma, chroma = samples[:, :1], samples[:, 1:]
                got = exact._decoder_color(luma, chroma - 128.0) if fused else exact._ycbcr_to_rgb(luma, chroma)
            else:
                convert = exact._encoder_color if fused else exact._rgb_to_ycbcr
                got = torch.cat(convert(samples), dim=1)
            np.testing.assert_array_equal(got.reshape(3, -1).T.numpy().astype(np.int64), expected)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_coefficients_and_tables_decode_as_float32(dtype):
    """Coefficients and tables held in half precision (e.g. after ``.half()`` to save memory) are the same
    integers: the exact decode is the same (it rounded 1025 to 1026 in float16, 129 to 130 in bfloat16)."""
    coefficients = jpeg_encode(torch.rand(2, 3, 16, 16), 100.0, mode="exact")
    coefficients.luma = coefficients.luma.clone()
    coefficients.luma[0, 0, 0, 0, :3] = torch.tensor([1016.0, 129.0, -131.0])  # exact in both half dtypes
    half = JPEGCoefficients(
        coefficients.luma.to(dtype),
        coefficients.chroma.to(dtype),
        (coefficients.qt_y + 128.0).to(dtype),  # table entries above 128: odd ones are bfloat16 values too
        coefficients.qt_c.to(dtype),
        "4:2:0",
        (16, 16),
    )
    single = dataclasses.replace(
        half, luma=half.luma.float(), chroma=half.chroma.float(), qt_y=half.qt_y.float(), qt_c=half.qt_c.float()
    )
    assert torch.equal(jpeg_decode(half, mode="exact"), jpeg_decode(single, mode="exact"))
