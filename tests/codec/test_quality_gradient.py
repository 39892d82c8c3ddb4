"""The quality gradient: the codec's own central difference, against the real codec (OpenCV)."""

from __future__ import annotations

import pytest
import torch

import kornia_diffjpeg.codec.pipeline as pipeline
from kornia_diffjpeg import DiffJPEG, DiffJPEGCodec, RandomDiffJPEG, diff_jpeg
from kornia_diffjpeg.codec import annex_k_tables
from kornia_diffjpeg.codec.quality_gradient import QUALITY_WINDOW, SCALE_WINDOW
from testing.datasets import COLOR_PHOTO_NAMES, small_crop
from testing.reference import from_uint8, opencv_jpeg

MODES = ("surrogate", "ste", "exact")
H = int(QUALITY_WINDOW)


def crop(name: str) -> torch.Tensor:
    return from_uint8(small_crop(name))


def real(image: torch.Tensor, quality: int) -> torch.Tensor:
    """OpenCV's JPEG of an 8-bit image at an integer quality, as floats in [0, 1]."""
    array = (image * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return from_uint8(opencv_jpeg(array, quality))


def mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().flatten(-3).mean(-1)


@pytest.mark.parametrize("mode", MODES)
def test_sign_follows_the_real_codec(mode):
    """The sign of dL/dq agrees with OpenCV's own difference of L over q -+ 3 at most grid points."""
    agree = []
    for name in COLOR_PHOTO_NAMES:
        image = crop(name)
        real_loss = {}
        for target in (23, 61):
            reference = real(image, target)
            real_loss = [float(mse(real(image, k), reference)) for k in range(1, 101)]
            grid = [q + 0.37 for q in range(5, 100, 8) if abs(q + 0.37 - target) >= 3]
            quality = torch.tensor(grid, requires_grad=True)
            images = image.expand(len(grid), -1, -1, -1)
            mse(diff_jpeg(images, quality, mode=mode), reference).sum().backward()
            for q, ours in zip(grid, quality.grad.tolist(), strict=True):
                low = min(max(round(q) - H, 1), 100 - 2 * H)
                theirs = real_loss[low + 2 * H - 1] - real_loss[low - 1]
                agree.append((ours > 0) == (theirs > 0) and ours != 0 and theirs != 0)
    assert sum(agree) / len(agree) >= 0.7, f"{sum(agree)} of {len(agree)}"


@pytest.mark.parametrize("mode", MODES)
def test_bounds_do_not_vanish(mode):
    """At q = 1 and q = 100 the gradient is at least 1/10 of its value one quality inside, and nonzero."""
    image = crop("astronaut")[None].expand(4, -1, -1, -1)
    quality = torch.tensor([1.0, 2.0, 100.0, 99.0], requires_grad=True)
    mse(diff_jpeg(image, quality, mode=mode), image).sum().backward()
    grad = quality.grad.abs()
    assert grad[0] > 0 and grad[2] > 0
    assert grad[0] >= 0.1 * grad[1] and grad[2] >= 0.1 * grad[3]


@pytest.mark.parametrize("quality_value, low", [(1.0, 1), (100.0, 100 - 2 * H), (50.0, 50 - H)])
def test_exact_mode_is_the_real_codecs_difference(quality_value, low):
    """In exact mode, d<w, codec(x, q)>/dq is OpenCV's own <w, (jpeg(q_hi) - jpeg(q_lo))> / (q_hi - q_lo).

    The window lies inside [1, 100]: one-sided at the bounds, pointing inward.
    """
    image = crop("coffee")
    weights = torch.randn(image.shape, generator=torch.Generator().manual_seed(0))
    quality = torch.tensor(quality_value, requires_grad=True)
    (diff_jpeg(image, quality, mode="exact") * weights).sum().backward()
    expected = ((real(image, low + 2 * H) - real(image, low)) * weights).sum() / (2 * H)
    torch.testing.assert_close(quality.grad, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("mode", ("surrogate", "ste"))
def test_linear_loss_gradient_is_the_forward_difference(mode):
    """Gradcheck-style: for a linear loss the quality gradient is the forward's central difference (float64)."""
    image = crop("chelsea").double()
    weights = torch.randn(image.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    quality = torch.tensor([37.3], dtype=torch.float64, requires_grad=True)

    def loss(q: torch.Tensor) -> torch.Tensor:
        return (diff_jpeg(image[None], q, mode=mode) * weights).sum()

    loss(quality).backward()
    with torch.no_grad():
        expected = (loss(quality + H) - loss(quality - H)) / (2 * H)
    torch.testing.assert_close(quality.grad, expected.view(1), rtol=1e-9, atol=1e-12)


def test_table_scale_gradient_is_the_forward_difference():
    """Given tables: the gradient along their common scale is the codec's central difference over s (1 -+ 6 %)."""
    image = crop("astronaut").double()[None]
    weights = torch.randn(image.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    qt_y, qt_c = (t.double().requires_grad_(True) for t in annex_k_tables())

    def loss(y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return (diff_jpeg(image, qt_y=y, qt_c=c, mode="ste") * weights).sum()

    loss(qt_y, qt_c).backward()
    along_scale = (qt_y.grad * qt_y).sum() + (qt_c.grad * qt_c).sum()  # d loss(s T) / ds at s = 1
    with torch.no_grad():
        up, down = 1 + SCALE_WINDOW, 1 - SCALE_WINDOW
        expected = (loss(qt_y * up, qt_c * up) - loss(qt_y * down, qt_c * down)) / (2 * SCALE_WINDOW)
    torch.testing.assert_close(along_scale, expected, rtol=1e-6, atol=1e-9)


def test_image_gradient_is_unchanged():
    image = crop("coffee")[None].clone().requires_grad_(True)
    grads = []
    for option in ("finite_difference", "surrogate"):
        quality = torch.tensor([30.0], requires_grad=True)
        image.grad = None
        mse(diff_jpeg(image, quality, mode="ste", quality_gradient=option), image.detach()).sum().backward()
        grads.append(image.grad.clone())
    torch.testing.assert_close(grads[0], grads[1])


def test_option_reaches_the_smooth_faces_derivative():
    """quality_gradient="surrogate": exact mode takes the surrogate mode's analytic gradient (before 0.2)."""
    image = crop("chelsea")[None]
    grads = []
    for mode in ("exact", "surrogate"):
        quality = torch.tensor([40.0], requires_grad=True)
        mse(diff_jpeg(image, quality, mode=mode, quality_gradient="surrogate"), image).sum().backward()
        grads.append(quality.grad)
    assert grads[0].abs() > 0
    codec = DiffJPEGCodec(mode="exact", quality_gradient="surrogate")
    quality = torch.tensor([40.0], requires_grad=True)
    mse(codec(image, quality), image).sum().backward()
    torch.testing.assert_close(quality.grad, grads[0])
    assert "quality_gradient='surrogate'" in repr(codec)


def test_option_is_checked():
    image = torch.rand(1, 3, 16, 16)
    for make in (
        lambda: diff_jpeg(image, 50.0, quality_gradient="central"),
        lambda: DiffJPEGCodec(quality_gradient="central"),
        lambda: DiffJPEG(50.0, quality_gradient="central"),
        lambda: RandomDiffJPEG((30.0, 60.0), quality_gradient="central"),
    ):
        with pytest.raises(ValueError, match="quality_gradient"):
            make()


def test_augmentation_passes_the_option():
    image = crop("astronaut")[None]
    grads = []
    for option in ("finite_difference", "surrogate"):
        aug = DiffJPEG(50.0, mode="exact", learnable=True, quality_gradient=option)
        mse(aug(image), image).sum().backward()
        grads.append(aug.quality_logit.grad)
    assert grads[0].abs() > 0 and grads[1].abs() > 0
    assert not torch.equal(grads[0], grads[1])


class _CountEncodes:
    def __init__(self, monkeypatch):
        self.batch_sizes: list[int] = []
        original = pipeline.jpeg_encode

        def counted(image, *args, **kwargs):
            self.batch_sizes.append(image.shape[0])
            return original(image, *args, **kwargs)

        monkeypatch.setattr(pipeline, "jpeg_encode", counted)


@pytest.mark.parametrize("mode", ("surrogate", "ste"))
def test_no_extra_forward_without_quality_grad(monkeypatch, mode):
    image = torch.rand(2, 3, 16, 16, requires_grad=True)
    counter = _CountEncodes(monkeypatch)
    diff_jpeg(image, torch.tensor([20.0, 70.0]), mode=mode).sum().backward()
    assert counter.batch_sizes == [2]
    counter.batch_sizes.clear()
    with torch.no_grad():
        diff_jpeg(image, torch.tensor([20.0, 70.0], requires_grad=True), mode=mode)
    assert counter.batch_sizes == [2]
    counter.batch_sizes.clear()
    diff_jpeg(image, torch.tensor([20.0, 70.0], requires_grad=True), mode=mode).sum().backward()
    assert sorted(counter.batch_sizes) == [2, 4]  # the window's two ends, batched into one call


def test_vmap_of_the_quality_gradient():
    # torch.func: per-image quality gradients under vmap equal the ones taken image by image.
    images, quality = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(5)), torch.tensor(50.0)

    def loss(image, q):
        return diff_jpeg(image, q).square().mean()

    batched = torch.func.vmap(torch.func.grad(loss, argnums=1), in_dims=(0, None))(images, quality)
    one_by_one = [torch.func.grad(loss, argnums=1)(image, quality) for image in images]
    torch.testing.assert_close(batched, torch.stack(one_by_one))
