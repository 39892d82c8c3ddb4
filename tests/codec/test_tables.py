"""Quantization tables: Annex K, libjpeg's quality scaling, and the tables the codec uses."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from kornia_diffjpeg import jpeg_encode
from kornia_diffjpeg.codec import annex_k_tables
from kornia_diffjpeg.codec.tables import ANNEX_K_CHROMA, ANNEX_K_LUMA, libjpeg_table, quality_to_scale

QUALITIES = range(1, 101)


def spec_table(base, quality: int) -> np.ndarray:
    """libjpeg's jpeg_quality_scaling + jpeg_add_quant_table (force_baseline), in integer arithmetic."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.array([[min(max((b * scale + 50) // 100, 1), 255) for b in row] for row in base], dtype=np.int64)


def pillow_tables(quality: int, qtables=None) -> tuple[np.ndarray, np.ndarray]:
    """The (luma, chroma) tables libjpeg writes through Pillow, in natural order.

    Pillow (>= 8.3) de-zigzags DQT tables when it reads them, so ``im.quantization`` is already in
    natural row-major order; see the Annex K check below, which would fail for zigzag order.
    """
    buffer = io.BytesIO()
    options = {"quality": quality}
    if qtables is not None:
        options["qtables"] = [list(map(int, np.asarray(t).reshape(64))) for t in qtables]
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, format="JPEG", **options)
    buffer.seek(0)
    with Image.open(buffer) as image:
        tables = image.quantization
    return np.array(tables[0]).reshape(8, 8), np.array(tables[1]).reshape(8, 8)


@pytest.fixture(scope="module")
def all_pillow_tables() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return {q: pillow_tables(q) for q in QUALITIES}


def test_annex_k_tables():
    luma, chroma = annex_k_tables(torch.float64)
    assert luma.shape == chroma.shape == (8, 8) and luma.dtype == torch.float64
    assert luma.tolist() == [list(map(float, row)) for row in ANNEX_K_LUMA]
    assert chroma.tolist() == [list(map(float, row)) for row in ANNEX_K_CHROMA]
    # Natural order: the top row of the luma table starts 16, 11, 10, 16 (zigzag would be 16, 11, 12, 14).
    assert luma[0, :4].tolist() == [16.0, 11.0, 10.0, 16.0]


def test_annex_k_is_libjpeg_quality_50(all_pillow_tables):
    luma, chroma = all_pillow_tables[50]
    np.testing.assert_array_equal(luma, np.array(ANNEX_K_LUMA))
    np.testing.assert_array_equal(chroma, np.array(ANNEX_K_CHROMA))


def test_libjpeg_table_matches_pillow_every_quality(all_pillow_tables):
    base_y, base_c = annex_k_tables(torch.float64)
    for q in QUALITIES:
        luma, chroma = all_pillow_tables[q]
        quality = torch.tensor(float(q), dtype=torch.float64)
        np.testing.assert_array_equal(libjpeg_table(base_y, quality).numpy(), luma, err_msg=f"luma q={q}")
        np.testing.assert_array_equal(libjpeg_table(base_c, quality).numpy(), chroma, err_msg=f"chroma q={q}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_libjpeg_table_matches_spec_formula(dtype):
    base_y, base_c = annex_k_tables(dtype)
    qualities = torch.arange(1, 101, dtype=dtype).view(100, 1, 1)
    luma, chroma = libjpeg_table(base_y, qualities), libjpeg_table(base_c, qualities)
    for q in QUALITIES:
        np.testing.assert_array_equal(luma[q - 1].numpy(), spec_table(ANNEX_K_LUMA, q), err_msg=f"q={q}")
        np.testing.assert_array_equal(chroma[q - 1].numpy(), spec_table(ANNEX_K_CHROMA, q), err_msg=f"q={q}")


def test_libjpeg_table_custom_base_matches_spec():
    generator = torch.Generator().manual_seed(3)
    base = torch.randint(1, 256, (8, 8), generator=generator)
    for q in (1, 2, 7, 33, 49, 50, 51, 77, 99, 100):
        table = libjpeg_table(base.double(), torch.tensor(float(q), dtype=torch.float64))
        np.testing.assert_array_equal(table.numpy(), spec_table(base.tolist(), q), err_msg=f"q={q}")


def test_quality_to_scale():
    q = torch.tensor([1.0, 10.0, 49.0, 50.0, 75.0, 100.0])
    assert quality_to_scale(q).tolist() == pytest.approx([5000.0, 500.0, 5000 / 49, 100.0, 50.0, 0.0])


@pytest.mark.parametrize("mode", ["ste", "surrogate"])
@pytest.mark.parametrize("channels", [1, 3])
def test_encoder_tables_at_integer_quality(mode, channels, all_pillow_tables):
    image = torch.rand(len(QUALITIES), channels, 8, 8, generator=torch.Generator().manual_seed(0))
    quality = torch.arange(1, 101, dtype=torch.float32)
    coefficients = jpeg_encode(image, quality, mode=mode)
    assert coefficients.qt_y.shape == (100, 8, 8)
    expected_y = np.stack([all_pillow_tables[q][0] for q in QUALITIES])
    np.testing.assert_array_equal(coefficients.qt_y.detach().numpy(), expected_y)
    if channels == 1:
        assert coefficients.qt_c is None
    else:
        expected_c = np.stack([all_pillow_tables[q][1] for q in QUALITIES])
        np.testing.assert_array_equal(coefficients.qt_c.detach().numpy(), expected_c)


@pytest.mark.parametrize("quality", [10, 30, 50, 75, 95])
@pytest.mark.parametrize("mode", ["ste", "surrogate"])
def test_custom_base_tables_scaled_like_libjpeg(quality, mode):
    # With a quality, given tables are scaled as libjpeg (and Pillow's qtables= + quality=) scale them.
    generator = torch.Generator().manual_seed(quality)
    base_y = torch.randint(1, 256, (8, 8), generator=generator)
    base_c = torch.randint(1, 256, (8, 8), generator=generator)
    luma, chroma = pillow_tables(quality, qtables=[base_y.numpy(), base_c.numpy()])
    coefficients = jpeg_encode(
        torch.rand(1, 3, 8, 8), float(quality), qt_y=base_y.float(), qt_c=base_c.float(), mode=mode
    )
    np.testing.assert_array_equal(coefficients.qt_y[0].detach().numpy(), luma)
    np.testing.assert_array_equal(coefficients.qt_c[0].detach().numpy(), chroma)


@given(q=st.floats(1.0, 99.999, allow_nan=False), mode=st.sampled_from(["ste", "surrogate"]))
def test_fractional_quality_between_neighbours(q, mode):
    lower, upper = int(np.floor(q)), int(np.floor(q)) + 1
    coefficients = jpeg_encode(torch.rand(1, 3, 8, 8, dtype=torch.float64), q, mode=mode)
    for table, base in ((coefficients.qt_y[0], ANNEX_K_LUMA), (coefficients.qt_c[0], ANNEX_K_CHROMA)):
        table = table.detach().numpy()
        high, low = spec_table(base, lower), spec_table(base, upper)  # tables shrink as quality grows
        assert np.all(table <= high + 1e-9) and np.all(table >= low - 1e-9)
        if mode == "surrogate":
            # The smooth face interpolates linearly between the integer qualities' tables.
            # (A Python float quality is held in float32, hence the tolerance.)
            fraction = q - lower
            np.testing.assert_allclose(table, (1 - fraction) * high + fraction * low, rtol=0, atol=1e-4)
        else:
            # True rounding forward: integer tables that libjpeg could write.
            np.testing.assert_array_equal(table, np.round(table))


@given(
    q1=st.floats(1.0, 100.0, allow_nan=False),
    q2=st.floats(1.0, 100.0, allow_nan=False),
    mode=st.sampled_from(["ste", "surrogate"]),
)
def test_tables_do_not_grow_with_quality(q1, q2, mode):
    low_q, high_q = min(q1, q2), max(q1, q2)
    image = torch.rand(2, 3, 8, 8)
    coefficients = jpeg_encode(image, torch.tensor([low_q, high_q]), mode=mode)
    for tables in (coefficients.qt_y, coefficients.qt_c):
        assert bool((tables[0] >= tables[1]).all())
        assert bool((tables >= 1).all()) and bool((tables <= 255).all())


@pytest.mark.parametrize("mode", ["ste", "surrogate"])
def test_given_tables_without_quality(mode):
    qt_y = torch.tensor(ANNEX_K_LUMA, dtype=torch.float32) + 0.3
    qt_c = torch.full((8, 8), 17.5)
    coefficients = jpeg_encode(torch.rand(1, 3, 8, 8), qt_y=qt_y, qt_c=qt_c, mode=mode)
    if mode == "ste":  # rounded to integers (halves up), as a file can only hold integers
        torch.testing.assert_close(coefficients.qt_y[0], qt_y.round(), rtol=0, atol=0)
        assert coefficients.qt_c[0].eq(18.0).all()
    else:  # used as given
        torch.testing.assert_close(coefficients.qt_y[0], qt_y, rtol=0, atol=0)
        torch.testing.assert_close(coefficients.qt_c[0], qt_c, rtol=0, atol=0)


@pytest.mark.parametrize("mode", ["ste", "surrogate"])
@pytest.mark.parametrize("q", [1.0, 12.5, 50.0, 99.5, 100.0])
def test_table_gradient_wrt_quality_never_vanishes(mode, q):
    quality = torch.tensor(q, requires_grad=True)
    coefficients = jpeg_encode(torch.rand(1, 3, 8, 8), quality, mode=mode)
    (coefficients.qt_y.sum() + coefficients.qt_c.sum()).backward()
    assert torch.isfinite(quality.grad) and float(quality.grad) < 0  # higher quality, smaller steps
