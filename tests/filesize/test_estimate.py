"""The smooth file-size estimate against the real encoders, its gradients, and the learned regressor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kornia_diffjpeg.filesize import DiffJPEGFileSize, diff_jpeg_file_size
from kornia_diffjpeg.filesize.exact import header_size
from testing.datasets import small_crop as load_photo
from testing.reference import from_uint8, opencv_encode, pillow_encode

# The estimate counts the entropy-coded bits exactly; what it models is the 0x00 stuffed after each
# 0xFF byte and the final padding. Stuffing is 0.1-2% of the entropy-coded bytes with the standard
# tables (reference notes); random tables make long codes (runs of 1 bits) common, measured up to
# about 4.5% here. A model error is then at most that fraction of the data bytes, plus one byte.
STANDARD_STUFFING = 0.02
RANDOM_TABLE_STUFFING = 0.05


def _assert_close(estimate: torch.Tensor, data: bytes, channels: int, stuffing: float) -> None:
    actual = len(data)
    bound = stuffing * (actual - header_size(channels)) + 1.0
    assert abs(float(estimate) - actual) <= bound, (float(estimate), actual, bound)


@pytest.mark.parametrize("subsampling", ["4:2:0", "4:2:2", "4:4:4"])
@pytest.mark.parametrize("quality", [1, 35, 90, 100])
def test_close_to_opencv(photo, subsampling, quality):
    image = from_uint8(photo)
    estimate = diff_jpeg_file_size(image, quality, subsampling=subsampling)
    _assert_close(estimate[0], opencv_encode(photo, quality, subsampling), image.shape[0], STANDARD_STUFFING)


def test_close_to_opencv_batch_of_odd_sizes(odd_photo):
    image = from_uint8(odd_photo)
    qualities = torch.tensor([5.0, 50.0, 95.0])
    estimate = diff_jpeg_file_size(image.expand(3, -1, -1, -1), qualities)
    for size, quality in zip(estimate, qualities.tolist(), strict=True):
        _assert_close(size, opencv_encode(odd_photo, int(quality)), 3, STANDARD_STUFFING)


@pytest.mark.parametrize("seed", range(3))
def test_close_to_pillow_with_random_tables(seed):
    rng = np.random.default_rng(seed)
    photo = load_photo(("astronaut", "chelsea", "coffee")[seed], 41, 67)
    qt_y, qt_c = (rng.integers(1, 256, (8, 8)) for _ in range(2))
    estimate = diff_jpeg_file_size(
        from_uint8(photo), qt_y=torch.tensor(qt_y).float(), qt_c=torch.tensor(qt_c).float(), subsampling="4:4:4"
    )
    data = pillow_encode(photo, subsampling="4:4:4", qtables=[qt_y, qt_c])
    _assert_close(estimate[0], data, 3, RANDOM_TABLE_STUFFING)


def test_quality_gradient_is_positive_and_finite(color_photo):
    image = from_uint8(color_photo).unsqueeze(0).repeat(3, 1, 1, 1).requires_grad_(True)
    quality = torch.tensor([20.0, 50.0, 80.0], requires_grad=True)
    size = diff_jpeg_file_size(image, quality)
    size.sum().backward()
    assert bool((size[1:] > size[:-1]).all()), size
    assert bool((quality.grad > 0).all()), quality.grad
    assert bool(torch.isfinite(image.grad).all()) and float(image.grad.abs().sum()) > 0


def test_table_gradients_point_the_right_way():
    """Larger quantization steps give fewer bits: the gradient is negative and predicts the change."""
    image = from_uint8(load_photo("chelsea"))
    qt_y = torch.full((8, 8), 8.0, requires_grad=True)
    qt_c = torch.full((8, 8), 12.0, requires_grad=True)
    size = diff_jpeg_file_size(image, qt_y=qt_y, qt_c=qt_c)
    size.sum().backward()
    assert float(qt_y.grad.sum()) < 0 and float(qt_c.grad.sum()) < 0
    step = 4.0
    with torch.no_grad():
        larger = diff_jpeg_file_size(image, qt_y=qt_y + step, qt_c=qt_c + step)
    predicted = step * float(qt_y.grad.sum() + qt_c.grad.sum())
    actual = float(larger - size.detach())
    assert actual < 0 and 0.3 < predicted / actual < 3.0, (predicted, actual)


def test_grayscale_and_float64():
    image = from_uint8(load_photo("camera")).double().requires_grad_(True)
    size = diff_jpeg_file_size(image, 60.0)
    assert size.dtype == torch.float64 and size.shape == (1,)
    size.sum().backward()
    assert bool(torch.isfinite(image.grad).all())


def test_module_parameters_receive_gradients():
    model = DiffJPEGFileSize(subsampling="4:2:2")
    size = model(from_uint8(load_photo("coffee")).unsqueeze(0), 95.0)
    size.sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert len(grads) >= 2 and all(g is not None and bool(torch.isfinite(g)) for g in grads)
    assert any(float(g) != 0 for g in grads)


def test_bad_inputs():
    image = torch.rand(1, 3, 16, 16)
    with pytest.raises(TypeError, match="image"):
        diff_jpeg_file_size(np.zeros((16, 16, 3)), 50)
    with pytest.raises(ValueError, match="quality"):
        diff_jpeg_file_size(image, -1.0)
    with pytest.raises(ValueError, match="subsampling"):
        diff_jpeg_file_size(image, 50, subsampling="4:1:1")
    with pytest.raises(ValueError, match="qt_y"):
        diff_jpeg_file_size(image, qt_y=torch.ones(4, 4), qt_c=torch.ones(8, 8))
    with pytest.raises(ValueError, match="qt_c"):
        diff_jpeg_file_size(image, qt_y=torch.ones(8, 8))
    with pytest.raises(ValueError, match="subsampling"):
        DiffJPEGFileSize(subsampling="420")


def test_regressor_loss_falls_on_a_tiny_batch():
    from examples.filesize_training import file_size_batch
    from kornia_diffjpeg.filesize.regressor import JPEGFileSizeRegressor, file_size_loss

    torch.manual_seed(0)
    photos = [from_uint8(load_photo(name)) for name in ("astronaut", "chelsea")]
    batch = file_size_batch(photos, 4, (32, 32), torch.Generator().manual_seed(0), table_fraction=0.0)
    coefficients = batch.encode()
    model = JPEGFileSizeRegressor(dim=32, depth=1)
    with torch.no_grad():
        model.rate.mul_(3.0)  # a prior three times too large: training must correct it
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        loss = file_size_loss(model(coefficients), batch.sizes)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.5 * losses[0], losses


def test_regressor_gradients_reach_the_quality():
    from kornia_diffjpeg import jpeg_encode
    from kornia_diffjpeg.filesize.regressor import JPEGFileSizeRegressor

    quality = torch.tensor([40.0], requires_grad=True)
    model = JPEGFileSizeRegressor(dim=32, depth=1)
    size = model(jpeg_encode(from_uint8(load_photo("coffee")), quality))
    size.sum().backward()
    assert size.shape == (1,) and bool(torch.isfinite(quality.grad).all())
    assert float(quality.grad) > 0.0  # a higher quality makes a larger file
    assert bool(torch.isfinite(model.rate.grad).all()) and float(model.rate.grad.abs().sum()) > 0.0
    with pytest.raises(TypeError, match="coefficients"):
        JPEGFileSizeRegressor(dim=32, depth=1)(torch.rand(1, 3, 8, 8))


def test_block_features_count_rate_terms():
    from kornia_diffjpeg.filesize.huffman import ZIGZAG
    from kornia_diffjpeg.filesize.regressor import block_features

    assert bool((block_features(torch.zeros(2, 2, 3, 64)) == 0).all())
    blocks = torch.zeros(1, 1, 3, 64)
    blocks[0, 0, :, 0] = torch.tensor([4.0, 4.0, -4.0])  # DC values in row order
    blocks[0, 0, 1, ZIGZAG[10]] = 3.0  # one AC coefficient at zigzag position 10
    blocks[0, 0, 2, ZIGZAG[2]] = -1.0
    blocks[0, 0, 2, ZIGZAG[5]] = 1.0
    features = block_features(blocks)[0]
    assert features.shape == (3, 4)
    assert features[:, 0].tolist() == [0.0, 1.0, 2.0]  # non-zero AC count
    torch.testing.assert_close(features[:, 1], torch.tensor([0.0, 2.0, 2.0]))  # sum log2(1 + |y|)
    torch.testing.assert_close(features[:, 2], torch.log2(torch.tensor([5.0, 1.0, 9.0])))  # DC differences 4, 0, -8
    assert features[:, 3].tolist() == [0.0, 10.0, 5.0]  # zigzag position of the last non-zero AC
    soft = (torch.randn(2, 2, 2, 64) * 3).requires_grad_()
    block_features(soft).sum().backward()
    assert bool(torch.isfinite(soft.grad).all()) and float(soft.grad.abs().sum()) > 0.0


def test_untrained_regressor_is_its_rate_prior():
    from kornia_diffjpeg import jpeg_encode
    from kornia_diffjpeg.filesize.regressor import JPEGFileSizeRegressor, block_features

    coefficients = jpeg_encode(torch.stack([from_uint8(load_photo(n)) for n in ("astronaut", "chelsea")]), 50)
    model = JPEGFileSizeRegressor(dim=32, depth=1)
    planes = [coefficients.luma[:, 0], *coefficients.chroma.unbind(1)]
    features = torch.cat([block_features(plane) for plane in planes], dim=1)
    per_block = features @ model.rate[:4] + model.rate[4]
    expected = header_size(3) + per_block.sum(1)
    torch.testing.assert_close(model(coefficients), expected.detach())


def test_fit_rate_prior_minimizes_the_squared_relative_error():
    from examples.filesize_training import file_size_batch, fit_rate_prior
    from kornia_diffjpeg.filesize.regressor import RATE_PRIOR, JPEGFileSizeRegressor

    photos = [from_uint8(load_photo(name)) for name in ("astronaut", "coffee")]
    fitted = fit_rate_prior(photos, 3, batch_size=4, sizes=[(32, 32)], seed=3)
    assert len(fitted) == len(RATE_PRIOR) and all(np.isfinite(fitted))
    generator = torch.Generator().manual_seed(3)  # the crops the fit saw
    batches = [file_size_batch(photos, 4, (32, 32), generator) for _ in range(3)]

    def squared_error(rate) -> float:
        model = JPEGFileSizeRegressor(dim=16, depth=1)
        with torch.no_grad():
            model.rate.copy_(torch.tensor(rate))
            return sum(float(((model(b.encode()) / b.sizes - 1.0) ** 2).sum()) for b in batches)

    best = squared_error(fitted)
    for other in (RATE_PRIOR, [1.1 * r for r in fitted], [r + 0.01 for r in fitted]):
        assert best <= squared_error(other) * (1.0 + 1e-4)


def test_per_sample_settings_of_the_leading_shape():
    """Clips (T, B, C, H, W) take (T, B) or (T, 1) qualities and (T, B, 8, 8) tables, as jpeg_file_size
    does (they were refused); the sizes are those of the flattened images."""
    torch.manual_seed(0)
    clips = torch.rand(2, 3, 3, 16, 24)
    flat = clips.reshape(6, 3, 16, 24)
    quality = torch.tensor([[20.0, 40.0, 60.0], [30.0, 50.0, 70.0]])
    assert torch.equal(diff_jpeg_file_size(clips, quality), diff_jpeg_file_size(flat, quality.reshape(6)))
    per_clip = quality[:, :1]
    assert torch.equal(
        diff_jpeg_file_size(clips, per_clip), diff_jpeg_file_size(flat, per_clip.expand(2, 3).reshape(6))
    )
    tables = torch.randint(1, 60, (2, 3, 8, 8)).float()
    assert torch.equal(
        DiffJPEGFileSize()(clips, None, tables, tables),
        diff_jpeg_file_size(flat, qt_y=tables.reshape(6, 8, 8), qt_c=tables.reshape(6, 8, 8)),
    )


@pytest.mark.parametrize(("subsampling", "scale"), [("4:2:0", (2, 2)), ("4:2:2", (1, 2)), ("4:4:4", (1, 1))])
@pytest.mark.parametrize("size", [16, 24, 40])
def test_regressor_places_chroma_blocks_by_their_pixels(subsampling, scale, size):
    """Chroma block (r, c) is positioned as the luma block over the same pixels, (r, c) times the sampling
    factors, whatever the image size: 24 pixels make 3 luma blocks and 2 chroma blocks in 4:2:0, whose
    ratio (1) placed the chroma blocks at half their place."""
    from kornia_diffjpeg import jpeg_encode
    from kornia_diffjpeg.filesize.regressor import JPEGFileSizeRegressor

    model = JPEGFileSizeRegressor(dim=32, depth=1)
    scales = []
    tokens = model._tokens

    def spy(blocks, table, component, block_scale):
        scales.append(block_scale)
        return tokens(blocks, table, component, block_scale)

    model._tokens = spy
    model(jpeg_encode(torch.rand(1, 3, size, size), 50.0, subsampling=subsampling))
    assert scales == [(1, 1), scale, scale]


def test_bad_settings_targets_devices_and_helper_arguments_are_named():
    """Each gave a silent NaN, a RuntimeError from torch or a KeyError before."""
    from kornia_diffjpeg import jpeg_encode
    from kornia_diffjpeg.filesize import JPEGFileSizeRegressor, file_size_loss
    from kornia_diffjpeg.filesize.codebook import standard_codes
    from kornia_diffjpeg.filesize.huffman import huffman_codes

    image = torch.rand(2, 3, 16, 16)
    module = DiffJPEGFileSize()
    with torch.no_grad():
        module.ff_scale.fill_(float("nan"))  # a diverged calibration step: NaN sizes before
    with pytest.raises(ValueError, match="ff_scale must be finite"):
        module(image, 50.0)
    predicted = torch.tensor([100.0, 200.0])
    for target in (torch.tensor([1e300, 1.0], dtype=torch.float64), torch.tensor([1e-300, 1.0], dtype=torch.float64)):
        with pytest.raises(ValueError, match=r"target \(in predicted's dtype, torch.float32\)"):  # NaN loss before
            file_size_loss(predicted, target)
    regressor = JPEGFileSizeRegressor(dim=16, depth=1, heads=2)
    with pytest.raises(ValueError, match="coefficients are on meta but the regressor is on cpu"):
        regressor(jpeg_encode(image.to("meta"), 50.0))
    with pytest.raises(ValueError, match="kind must be one of"):
        standard_codes("xx", torch.device("cpu"))
    with pytest.raises(TypeError, match="luma must be a bool"):
        huffman_codes("yes", ac=True)  # any truthy value chose a table silently


def test_module_on_meta_with_real_images_is_named():
    """Its calibration had no value to move to the images' device: NotImplementedError before."""
    with pytest.raises(ValueError, match="ff_scale is on the meta device but image is on cpu"):
        DiffJPEGFileSize().to("meta")(torch.rand(1, 3, 16, 16), 50.0)
    meta = DiffJPEGFileSize().to("meta")(torch.rand(1, 3, 16, 16, device="meta"), 50.0)
    assert meta.shape == (1,) and meta.is_meta  # shapes only, as the function gives


def test_entropy_coded_cost_takes_coefficients():
    from kornia_diffjpeg.filesize.estimate import entropy_coded_cost

    with pytest.raises(TypeError, match="coefficients must be JPEGCoefficients"):  # AttributeError before
        entropy_coded_cost(torch.rand(1, 3, 16, 16))


def test_half_regressor_refuses_what_float16_cannot_hold():
    """A float16 regressor returned inf for a file past 65504 bytes, and NaN for coefficients past its range."""
    from dataclasses import replace

    from kornia_diffjpeg import jpeg_encode, jpeg_file_size
    from kornia_diffjpeg.filesize import JPEGFileSizeRegressor

    image = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    assert int(jpeg_file_size(image, 100.0)) > 65504  # the real file: more bytes than float16 holds
    coefficients = jpeg_encode(image, 100.0)
    regressor = JPEGFileSizeRegressor(dim=16, depth=1, heads=2)
    assert bool(torch.isfinite(regressor(coefficients)).all())
    with pytest.raises(ValueError, match="coefficients make a file larger than a float16 regressor can give"):
        regressor.half()(coefficients)
    small = jpeg_encode(torch.rand(1, 3, 16, 16), 50.0)
    large = replace(small, luma=small.luma.clone().fill_(40000.0))  # finite in float32, beyond float16 differences
    with pytest.raises(ValueError, match=r"coefficients.luma \(in the regressor's dtype, float16\)"):
        regressor(large)
    assert regressor(small).dtype == torch.float16


def test_attention_blocks_and_block_features_check_their_arguments():
    """The building blocks split dim into heads (RuntimeError, AssertionError or ZeroDivisionError before)."""
    from kornia_diffjpeg.filesize.regressor import ClassAttentionBlock, XCABlock, block_features

    for block in (XCABlock, ClassAttentionBlock):
        with pytest.raises(ValueError, match="dim must be a multiple of heads"):
            block(32, heads=5)
        with pytest.raises(ValueError, match="heads must be an int"):
            block(32, heads=0)
    with pytest.raises(TypeError, match="blocks must be a real-valued tensor"):  # AttributeError before
        block_features(None)
    for shape in ((64,), (2, 3, 4, 63)):  # IndexError, RuntimeError before
        with pytest.raises(ValueError, match=r"blocks must have shape \(\.\.\., rows, cols, 64\)"):
            block_features(torch.zeros(shape))


def test_correlation_weight_past_the_loss_dtype_is_refused():
    """1e39 is inf in float32: times a correlation of 1 (rounded) the loss was -inf or NaN."""
    from kornia_diffjpeg.filesize import file_size_loss

    sizes = torch.tensor([500.0, 600.0])
    with pytest.raises(ValueError, match="correlation_weight"):
        file_size_loss(sizes, sizes, 1e39)
    assert bool(torch.isfinite(file_size_loss(sizes.double(), sizes.double(), 1e39)))
