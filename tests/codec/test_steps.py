"""The smooth codec's forward in steps of whole images (CPU, no gradient recorded): one call's values."""

from __future__ import annotations

import pytest
import torch

import kornia_diffjpeg.codec.steps as steps
from kornia_diffjpeg import DiffJPEG, diff_jpeg, set_validation
from kornia_diffjpeg.codec import jfif_color
from testing.datasets import COLOR_PHOTO_NAMES, small_crop
from testing.reference import from_uint8
from testing.syncs import HostSyncCounter

#: Per-image samples of the crops below (3 x 24 x 40); a budget of two images makes 7 images take 4 steps.
SAMPLES = 3 * 24 * 40


def _crops(count: int) -> torch.Tensor:
    """``count`` different 24x40 photo crops (the color photos, then mirrored, then upside down)."""
    crops = [from_uint8(small_crop(COLOR_PHOTO_NAMES[i % 3], 24, 40)) for i in range(count)]
    return torch.stack([c.flip(-1 - (i // 3) % 2) if i >= 3 else c for i, c in enumerate(crops)])


@pytest.fixture
def two_image_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Steps of two crops, and the batch sizes the codec is called with."""
    monkeypatch.setattr(steps, "STEP_SAMPLES", 2 * SAMPLES)
    calls: list[int] = []
    forward_in_steps = steps.forward_in_steps

    def counted(codec, images, *settings):  # noqa: ANN001, ANN202
        def step(part, *args, **kwargs):  # noqa: ANN001, ANN202
            calls.append(part.shape[0])
            return codec(part, *args, **kwargs)

        return forward_in_steps(step, images, *settings)

    monkeypatch.setattr("kornia_diffjpeg.codec.pipeline.forward_in_steps", counted)
    return calls


def assert_one_calls_values(stepped: torch.Tensor, whole: torch.Tensor) -> None:
    """The same values, up to a product rounded differently over fewer images: a sample rounding can then
    land on the other side of a half (up to 2 gray levels after the color conversion), in rare values."""
    assert stepped.shape == whole.shape and stepped.dtype == whole.dtype
    difference = (stepped.double() - whole.double()).abs()
    moved = difference > 4 * torch.finfo(whole.dtype).eps  # more than the products' own rounding
    assert moved.double().mean() <= 1e-3, f"{int(moved.sum())} of {moved.numel()} values moved"
    assert difference.max() <= 2.0 / 255.0


def _in_one_call(call):  # noqa: ANN001, ANN202
    saved = steps.STEP_SAMPLES
    steps.STEP_SAMPLES = None
    try:
        return call()
    finally:
        steps.STEP_SAMPLES = saved


@pytest.mark.parametrize("mode", ["surrogate", "ste"])
def test_steps_give_one_calls_values(mode: str, two_image_steps: list[int]) -> None:
    images = _crops(7)
    quality = torch.linspace(5.0, 95.0, 7)
    tables = torch.randint(1, 60, (7, 8, 8)).float()
    matrix, offset = jfif_color()
    cases = {
        "per-sample quality": lambda x: diff_jpeg(x, quality, mode=mode),
        "one quality": lambda x: diff_jpeg(x, 37.5, mode=mode),
        "tables": lambda x: diff_jpeg(x, qt_y=tables, qt_c=tables.flip(0), mode=mode, subsampling="4:2:2"),
        "quality and tables": lambda x: diff_jpeg(x, quality, qt_y=tables[0], mode=mode, subsampling="4:4:4"),
        "color": lambda x: diff_jpeg(x, quality, mode=mode, color=(matrix * 1.01, offset), rounding="polynomial"),
        "grayscale": lambda x: diff_jpeg(x[:, 1:2], quality, mode=mode),
        "float64": lambda x: diff_jpeg(x.double(), quality.double(), mode=mode),
        "channels last": lambda x: diff_jpeg(x.contiguous(memory_format=torch.channels_last), quality, mode=mode),
    }
    with torch.no_grad():
        for name, call in cases.items():
            two_image_steps.clear()
            stepped = call(images)
            assert two_image_steps == ([6, 1] if name == "grayscale" else [2, 2, 2, 1]), name  # by samples
            whole = _in_one_call(lambda call=call: call(images))
            assert stepped.is_contiguous(), name
            assert_one_calls_values(stepped, whole)


def test_leading_dimensions_and_per_clip_qualities(two_image_steps: list[int]) -> None:
    clips = _crops(6).view(2, 3, 3, 24, 40)
    quality = torch.tensor([[20.0], [80.0]])  # one per clip, broadcast over its frames
    with torch.no_grad():
        stepped = diff_jpeg(clips, quality)
        whole = _in_one_call(lambda: diff_jpeg(clips, quality))
    assert two_image_steps == [2, 2, 2]
    assert_one_calls_values(stepped, whole)


def test_steps_only_without_a_gradient(two_image_steps: list[int]) -> None:
    images = _crops(5)
    diff_jpeg(images, 50.0)  # grad mode on, but nothing requires grad: steps
    assert two_image_steps == [2, 2, 1]
    two_image_steps.clear()
    diff_jpeg(images.clone().requires_grad_(), 50.0).sum().backward()
    with torch.no_grad():
        diff_jpeg(images[:2], 50.0)  # one step's worth
        diff_jpeg(images, 50.0, mode="exact")  # steps of its own
    assert two_image_steps == []


def test_a_learnable_qualitys_forwards_take_steps(two_image_steps: list[int]) -> None:
    """The secant's forwards record no gradient (the image does not require one): they take steps, and
    the quality's gradient is one call's."""
    images = _crops(5)

    def quality_gradient() -> torch.Tensor:
        quality = torch.linspace(20.0, 80.0, 5, requires_grad=True)
        diff_jpeg(images, quality).square().sum().backward()
        assert quality.grad is not None
        return quality.grad

    stepped = quality_gradient()
    assert two_image_steps == [2, 2, 1, 2, 2, 2, 2, 2]  # the coded images, then both secant points at once
    whole = _in_one_call(quality_gradient)
    torch.testing.assert_close(stepped, whole, rtol=1e-3, atol=1e-6)


def test_one_host_sync_and_checked_values(two_image_steps: list[int]) -> None:
    images = _crops(7)
    with torch.no_grad():
        with HostSyncCounter() as on:
            diff_jpeg(images, torch.linspace(5.0, 95.0, 7))
        with set_validation(False), HostSyncCounter() as off:
            diff_jpeg(images, 50.0)
    assert (on.total, off.total) == (1, 0)
    assert two_image_steps == [2, 2, 2, 1] * 2
    broken = images.clone()
    broken[5, 0, 3, 3] = float("nan")  # in the third step
    with torch.no_grad(), pytest.raises(ValueError, match="image must be finite"):
        diff_jpeg(broken, 50.0)
    with torch.no_grad(), pytest.raises(ValueError, match="quality"):
        diff_jpeg(images, torch.tensor([50.0] * 6 + [101.0]))


def test_augmentation_forward_takes_steps(two_image_steps: list[int]) -> None:
    images = _crops(5)
    augmentation = DiffJPEG(40.0)
    with torch.no_grad():
        stepped = augmentation(images)
        whole = _in_one_call(lambda: augmentation(images))
    assert two_image_steps == [2, 2, 1]
    assert_one_calls_values(stepped, whole)


def test_no_steps_when_switched_off(two_image_steps: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """``STEP_SAMPLES = None``: every batch in one call (for allocators that keep freed memory)."""
    monkeypatch.setattr(steps, "STEP_SAMPLES", None)
    with torch.no_grad():
        diff_jpeg(_crops(7), 50.0)
    assert two_image_steps == []
