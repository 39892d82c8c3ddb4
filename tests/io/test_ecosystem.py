"""The ecosystem's JPEG transforms side by side with ours: the same bytes in, the same pixels out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kornia_diffjpeg import DiffJPEG
from testing.datasets import COLOR_PHOTO_NAMES, small_crop
from testing.reference import from_uint8, to_uint8

QUALITIES = (1, 10, 35, 50, 75, 90, 95, 100)


def _torchvision_transforms_v2():  # noqa: ANN202 (a module)
    """``torchvision.transforms.v2``, or a skip that says why it is not there."""
    try:
        import torchvision.transforms.v2 as v2  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pytest.skip("torchvision is not installed in this environment")
    except RuntimeError as error:  # a wheel built for another torch: "operator torchvision::nms does not exist"
        pytest.skip(f"torchvision does not import with this torch: {str(error).splitlines()[0][:120]}")
    return v2


def test_albumentations_image_compression() -> None:
    """``ImageCompression(quality_range=(q, q), p=1)`` is ``cv2.imencode`` + ``cv2.imdecode`` of the array
    as given. OpenCV takes it as BGR, so on an RGB array albumentations codes the channels swapped
    (its luma weighs red as blue); ours codes RGB as JFIF says. Ours on the channel-reversed image,
    reversed back, is albumentations' output bit for bit; on grayscale they agree directly."""
    albumentations = pytest.importorskip("albumentations")
    for name in COLOR_PHOTO_NAMES:
        array = small_crop(name, 37, 53)
        image = from_uint8(array)[None]
        gray = np.ascontiguousarray(array[..., 1])
        for quality in QUALITIES:
            transform = albumentations.ImageCompression(quality_range=(quality, quality), p=1.0)
            theirs = transform(image=array)["image"]
            ours = DiffJPEG(float(quality), mode="exact")(image.flip(1))[0].flip(0)
            assert np.array_equal(to_uint8(ours), theirs), (name, quality)
            ours_gray = DiffJPEG(float(quality), mode="exact")(from_uint8(gray)[None])[0]
            assert np.array_equal(to_uint8(ours_gray), transform(image=gray)["image"]), (name, quality)


def test_torchvision_v2_jpeg() -> None:
    """``torchvision.transforms.v2.JPEG(q)`` codes uint8 RGB tensors with libjpeg-turbo (4:2:0, standard
    tables): the same as ours in exact mode on the images converted to [0, 1]."""
    v2 = _torchvision_transforms_v2()
    for name in COLOR_PHOTO_NAMES:
        image = from_uint8(small_crop(name, 37, 53))
        as_uint8 = (image * 255).round().byte()
        for quality in QUALITIES:
            theirs = v2.JPEG(quality)(as_uint8)
            ours = DiffJPEG(float(quality), mode="exact")(image[None])[0]
            assert torch.equal((ours * 255).round().byte(), theirs), (name, quality)
