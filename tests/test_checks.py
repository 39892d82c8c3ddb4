"""Bad input: every public entry point rejects it with a TypeError/ValueError that names the argument."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kornia_diffjpeg import DiffJPEGCodec, diff_jpeg, jpeg_decode, jpeg_encode
from kornia_diffjpeg.codec import jfif_color

IMAGE = torch.rand(2, 3, 8, 8)
GRAY = torch.rand(2, 1, 8, 8)
TABLE = torch.full((8, 8), 16.0)
ENTRY_POINTS = {
    "diff_jpeg": diff_jpeg,
    "jpeg_encode": jpeg_encode,
    "module": lambda image, quality=None, **kwargs: DiffJPEGCodec()(image, quality, **kwargs),
}


@pytest.fixture(params=list(ENTRY_POINTS))
def code(request):
    return ENTRY_POINTS[request.param]


class TestImage:
    @pytest.mark.parametrize("image", [np.zeros((3, 8, 8), np.float32), [[0.5]], 0.5, None])
    def test_not_a_tensor(self, code, image):
        with pytest.raises(TypeError, match="image must be a torch.Tensor"):
            code(image, 50.0)

    def test_uint8_asks_for_conversion(self, code):
        with pytest.raises(TypeError, match=r"image.*floating-point.*uint8.*[Cc]onvert.*float\(\) / 255"):
            code(torch.zeros(3, 8, 8, dtype=torch.uint8), 50.0)

    @pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool])
    def test_other_non_float(self, code, dtype):
        with pytest.raises(TypeError, match="image must be a floating-point tensor"):
            code(torch.zeros(3, 8, 8, dtype=dtype), 50.0)

    def test_complex(self, code):
        with pytest.raises(TypeError, match="image"):
            code(torch.zeros(3, 8, 8, dtype=torch.complex64), 50.0)

    @pytest.mark.parametrize("shape", [(8,), (8, 8)])
    def test_rank(self, code, shape):
        with pytest.raises(ValueError, match=r"image must have shape \(\*, C, H, W\)"):
            code(torch.rand(shape), 50.0)

    @pytest.mark.parametrize("shape", [(2, 8, 8), (4, 8, 8), (1, 2, 8, 8), (1, 4, 8, 8), (1, 0, 8, 8)])
    def test_channels(self, code, shape):
        with pytest.raises(ValueError, match="image must have 1 .* or 3 .* channels"):
            code(torch.rand(shape), 50.0)

    @pytest.mark.parametrize("shape", [(3, 0, 8), (3, 8, 0), (1, 3, 0, 0), (1, 1, 0, 5)])
    def test_empty_spatial_size(self, code, shape):
        with pytest.raises(ValueError, match="image must have a non-empty spatial size"):
            code(torch.rand(shape), 50.0)


class TestQuality:
    @pytest.mark.parametrize(
        "quality", [-1, -0.001, -5.0, 100.001, 101, 1e9, torch.tensor(-0.5), torch.tensor([50.0, 100.5])]
    )
    def test_out_of_range(self, code, quality):
        with pytest.raises(ValueError, match=r"quality must be finite and in \[0, 100\]"):
            code(IMAGE, quality)

    @pytest.mark.parametrize(
        "quality",
        [float("nan"), float("inf"), -float("inf"), torch.tensor(float("nan")), torch.tensor([50.0, float("inf")])],
    )
    def test_not_finite(self, code, quality):
        with pytest.raises(ValueError, match="quality must be finite"):
            code(IMAGE, quality)

    @pytest.mark.parametrize("quality", [True, False, torch.tensor(True), torch.tensor([True, True])])
    def test_bool(self, code, quality):
        with pytest.raises(TypeError, match="quality"):
            code(IMAGE, quality)

    @pytest.mark.parametrize("quality", ["50", [50.0, 60.0], (50,), object(), torch.tensor(50 + 1j)])
    def test_wrong_type(self, code, quality):
        with pytest.raises(TypeError, match="quality"):
            code(IMAGE, quality)

    @pytest.mark.parametrize("shape", [(3,), (2, 1), (1, 1), (2, 2)])
    def test_wrong_shape(self, code, shape):
        with pytest.raises(ValueError, match=r"quality must be a number, a 0-d tensor or a \(2,\) tensor"):
            code(IMAGE, torch.full(shape, 50.0))

    def test_missing(self, code):
        with pytest.raises(ValueError, match="give a quality"):
            code(IMAGE)


class TestTables:
    @pytest.mark.parametrize("name", ["qt_y", "qt_c"])
    @pytest.mark.parametrize("shape", [(7, 8), (8, 7), (64,), (8,), (1, 1, 8, 8), (2, 2, 8, 8), (3, 8, 8), (0, 8, 8)])
    def test_wrong_shape(self, code, name, shape):
        with pytest.raises(ValueError, match=rf"{name} must have shape \(8, 8\) or \(2, 8, 8\)"):
            code(IMAGE, 50.0, **{name: torch.full(shape, 16.0)})

    @pytest.mark.parametrize("name", ["qt_y", "qt_c"])
    @pytest.mark.parametrize("value", [0.0, 0.5, -3.0, 255.5, 256.0, 1e6, float("nan"), float("inf")])
    def test_out_of_range(self, code, name, value):
        table = TABLE.clone()
        table[3, 4] = value
        with pytest.raises(ValueError, match=rf"{name} values must be finite and in \[1, 255\]"):
            code(IMAGE, 50.0, **{name: table})

    @pytest.mark.parametrize("name", ["qt_y", "qt_c"])
    def test_out_of_range_without_quality(self, code, name):
        tables = {"qt_y": TABLE, "qt_c": TABLE, name: torch.zeros(8, 8)}
        with pytest.raises(ValueError, match=name):
            code(IMAGE, **tables)

    @pytest.mark.parametrize("name", ["qt_y", "qt_c"])
    @pytest.mark.parametrize("table", ["table", object(), torch.ones(8, 8, dtype=torch.bool), torch.ones(8, 8) * 1j])
    def test_wrong_type(self, code, name, table):
        with pytest.raises(TypeError, match=name):
            code(IMAGE, 50.0, **{name: table})

    def test_missing_chroma_table_without_quality(self, code):
        with pytest.raises(ValueError, match="qt_c"):
            code(IMAGE, qt_y=TABLE)

    def test_missing_luma_table_without_quality(self, code):
        with pytest.raises(ValueError, match="qt_y"):
            code(IMAGE, qt_c=TABLE)
        with pytest.raises(ValueError, match="qt_y"):
            code(GRAY, qt_c=TABLE)

    def test_grayscale_needs_no_chroma_table(self, code):
        code(GRAY, qt_y=TABLE)  # accepted


class TestBatchSizes:
    def test_quality_batch_mismatch(self, code):
        with pytest.raises(ValueError, match="quality"):
            code(IMAGE, torch.full((3,), 50.0))

    @pytest.mark.parametrize("name", ["qt_y", "qt_c"])
    def test_table_batch_mismatch(self, code, name):
        with pytest.raises(ValueError, match=name):
            code(IMAGE, torch.full((2,), 50.0), **{name: torch.full((3, 8, 8), 16.0)})

    def test_tables_disagree_with_each_other(self, code):
        with pytest.raises(ValueError, match="qt_c"):
            code(IMAGE, qt_y=torch.full((2, 8, 8), 16.0), qt_c=torch.full((4, 8, 8), 16.0))

    def test_unbatched_image_takes_one_quality(self, code):
        with pytest.raises(ValueError, match="quality"):
            code(IMAGE[0], torch.full((2,), 50.0))


class TestChoices:
    @pytest.mark.parametrize("mode", ["fast", "STE", "", None, 1])
    def test_mode(self, mode):
        for call in (
            lambda: diff_jpeg(IMAGE, 50.0, mode=mode),
            lambda: jpeg_encode(IMAGE, 50.0, mode=mode),
            lambda: jpeg_decode(jpeg_encode(IMAGE, 50.0), mode=mode),
            lambda: DiffJPEGCodec(mode=mode),
        ):
            with pytest.raises(ValueError, match="mode must be one of"):
                call()

    @pytest.mark.parametrize("subsampling", ["4:1:1", "420", "4:4:0", "", None])
    def test_subsampling(self, subsampling):
        for call in (
            lambda: diff_jpeg(IMAGE, 50.0, subsampling=subsampling),
            lambda: jpeg_encode(GRAY, 50.0, subsampling=subsampling),  # checked for grayscale too
            lambda: DiffJPEGCodec(subsampling=subsampling),
        ):
            with pytest.raises(ValueError, match="subsampling must be one of"):
                call()

    @pytest.mark.parametrize("rounding", ["round", "Polynomial", "", None, 3])
    def test_rounding(self, rounding):
        for call in (
            lambda: diff_jpeg(IMAGE, 50.0, rounding=rounding),
            lambda: jpeg_decode(jpeg_encode(IMAGE, 50.0), rounding=rounding),
            lambda: DiffJPEGCodec(rounding=rounding),
        ):
            with pytest.raises(ValueError, match="rounding must be one of"):
                call()

    @pytest.mark.parametrize("mode", ["surrogate", "ste"])
    def test_rounding_callable_in_another_dtype(self, mode):
        """A callable computing in another float dtype (here the cubic surrogate in float64, or in half
        precision) works in the codec's dtype; it used to fail with a TypeError about coefficients.qt_y."""

        def cubic(x):
            return x.round() + (x - x.round()) ** 3

        expected_image = IMAGE.clone().requires_grad_()
        expected = diff_jpeg(expected_image, 50.0, mode=mode, rounding=cubic)
        expected.square().sum().backward()
        image = IMAGE.clone().requires_grad_()
        out = diff_jpeg(image, 50.0, mode=mode, rounding=lambda x: cubic(x.double()))
        out.square().sum().backward()
        assert out.dtype == torch.float32
        assert torch.allclose(out, expected, atol=1e-5)
        assert torch.allclose(image.grad, expected_image.grad, atol=1e-5, rtol=1e-5)
        image.grad = None
        out = diff_jpeg(image, 50.0, mode=mode, rounding=lambda x: cubic(x.half()))
        out.square().sum().backward()
        assert out.dtype == torch.float32 and bool(torch.isfinite(image.grad).all())

    def test_decode_needs_coefficients(self):
        with pytest.raises(TypeError, match="coefficients must be JPEGCoefficients"):
            jpeg_decode(IMAGE)

    @pytest.mark.parametrize("image", [IMAGE, GRAY], ids=["rgb", "gray"])
    def test_exact_mode_rejects_color(self, image):
        # libjpeg's color conversion is fixed: a custom color is refused by every exact entry point.
        color = jfif_color()
        for call in (
            lambda: diff_jpeg(image, 50.0, mode="exact", color=color),
            lambda: jpeg_encode(image, 50.0, mode="exact", color=color),
            lambda: jpeg_decode(jpeg_encode(image, 50.0, mode="exact"), mode="exact", color=color),
            lambda: DiffJPEGCodec(mode="exact")(image, 50.0, color=color),
        ):
            with pytest.raises(ValueError, match="color cannot be used with mode='exact'"):
                call()


class TestColor:
    @pytest.mark.parametrize(
        "color",
        [
            torch.eye(3),
            (torch.eye(3),),
            (torch.eye(3), torch.zeros(3), torch.zeros(3)),
            (torch.eye(3), [0.0, 128.0, 128.0]),
            (np.eye(3), np.zeros(3)),
            "jfif",
        ],
    )
    def test_not_a_pair_of_tensors(self, code, color):
        with pytest.raises(TypeError, match="color must be a"):
            code(IMAGE, 50.0, color=color)

    @pytest.mark.parametrize(
        ("matrix_shape", "offset_shape"),
        [((2, 2), (3,)), ((3,), (3,)), ((3, 4), (3,)), ((3, 3), (2,)), ((3, 3), (1, 3)), ((3, 3), ())],
    )
    def test_shapes(self, code, matrix_shape, offset_shape):
        color = (torch.ones(matrix_shape), torch.zeros(offset_shape))
        with pytest.raises(ValueError, match=r"color must be a matrix of shape \(3, 3\) and an offset of shape \(3,\)"):
            code(IMAGE, 50.0, color=color)

    def test_integer_parameters(self, code):
        color = (torch.eye(3, dtype=torch.int64), torch.zeros(3, dtype=torch.int64))
        with pytest.raises(TypeError, match="color matrix and offset must be floating point"):
            code(IMAGE, 50.0, color=color)

    def test_decoder_checks_color(self):
        with pytest.raises(ValueError, match="color"):
            jpeg_decode(jpeg_encode(IMAGE, 50.0), color=(torch.eye(2), torch.zeros(3)))

    def test_valid_color_accepted(self, code):
        matrix, offset = jfif_color(torch.float64)  # another float dtype is fine
        code(IMAGE, 50.0, color=(matrix, offset))
        code(GRAY, 50.0, color=(matrix, offset))  # ignored for grayscale


class TestDevices:
    # Only a CPU is assumed: the "meta" device stands in for another device.
    @pytest.mark.parametrize(
        ("name", "kwargs"),
        [
            ("quality", {"quality": torch.tensor(50.0, device="meta")}),
            ("qt_y", {"quality": 50.0, "qt_y": torch.ones(8, 8, device="meta")}),
            ("qt_c", {"quality": 50.0, "qt_c": torch.ones(8, 8, device="meta")}),
            ("color matrix", {"quality": 50.0, "color": (torch.eye(3, device="meta"), torch.zeros(3))}),
            ("color offset", {"quality": 50.0, "color": (torch.eye(3), torch.zeros(3, device="meta"))}),
        ],
    )
    def test_device_mismatch(self, code, name, kwargs):
        with pytest.raises(ValueError, match=rf"{name} is on meta but image is on cpu"):
            code(IMAGE, **kwargs)


def test_valid_inputs_accepted():
    # Boundaries of the valid ranges.
    for quality in (0, 0.5, 1, 1.0, 100, 100.0, np.float64(42.5), torch.tensor([0.0, 100.0])):
        diff_jpeg(IMAGE, quality)
    diff_jpeg(IMAGE, qt_y=torch.ones(8, 8), qt_c=torch.full((2, 8, 8), 255.0))
    diff_jpeg(IMAGE[:1], qt_y=torch.ones(1, 8, 8), qt_c=torch.ones(8, 8))
    diff_jpeg(torch.rand(1, 1, 1), 50.0)
