"""Shared fixtures: small crops of real photos, the Hypothesis profiles and the ``slow`` switch.

Everything is kept small (tens of pixels a side) and single-threaded: the suite shares two CPU
cores with other work and should finish in well under three minutes.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

torch.set_num_threads(1)

# "ci": reproducible and short; "dev" (default): random examples, a few more of them.
settings.register_profile(
    "ci", derandomize=True, max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# For bug hunts: pytest --hypothesis-profile=thorough (minutes).
settings.register_profile("thorough", max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile("ci" if os.environ.get("CI") else "dev")


#: name -> (skimage.data loader, area downscale factor, (top, left) of the crop in the downscaled image).
_PHOTOS = {
    "astronaut": ("astronaut", 4, (20, 30)),  # face, helmet edges, flag: strong edges and saturated colors
    "chelsea": ("chelsea", 3, (20, 40)),  # cat fur: fine texture
    "coffee": ("coffee", 4, (20, 30)),  # cup rim and smooth shading
    "camera": ("camera", 4, (20, 30)),  # grayscale
}
PHOTO_NAMES = tuple(_PHOTOS)
COLOR_PHOTO_NAMES = ("astronaut", "chelsea", "coffee")


def _area_downscale(array: np.ndarray, factor: int) -> np.ndarray:
    height, width = array.shape[0] // factor * factor, array.shape[1] // factor * factor
    array = array[:height, :width].astype(np.float64)
    shape = (height // factor, factor, width // factor, factor) + array.shape[2:]
    return np.round(array.reshape(shape).mean(axis=(1, 3))).astype(np.uint8)


@functools.cache
def _load_photo(name: str, height: int, width: int) -> np.ndarray:
    from skimage import data

    loader, factor, (top, left) = _PHOTOS[name]
    small = _area_downscale(getattr(data, loader)(), factor)
    return np.ascontiguousarray(small[top : top + height, left : left + width])


def load_photo(name: str, height: int = 48, width: int = 64) -> np.ndarray:
    """A small uint8 crop, (H, W, 3) RGB or (H, W) grayscale, of an skimage.data photo (a fresh copy)."""
    crop = _load_photo(name, height, width)
    assert crop.shape[:2] == (height, width), crop.shape
    return crop.copy()


@pytest.fixture(params=PHOTO_NAMES)
def photo(request) -> np.ndarray:
    """Each photo crop (48x64), uint8 as the real codecs take it."""
    return load_photo(request.param)


@pytest.fixture(params=COLOR_PHOTO_NAMES)
def color_photo(request) -> np.ndarray:
    return load_photo(request.param)


@pytest.fixture
def odd_photo() -> np.ndarray:
    """An RGB crop whose sides are not multiples of 8 or 16 (partial blocks and MCUs)."""
    return load_photo("astronaut", 37, 53)


@pytest.fixture
def full_form() -> bool:
    """Whether ``slow`` tests run in their full form (``KDJ_FULL=1``) or the small CI form."""
    return os.environ.get("KDJ_FULL") == "1"


def read_dct(data: bytes, tmp_path):
    """The DCT coefficients stored in JPEG bytes, read with jpeglib (the test skips without it)."""
    jpeglib = pytest.importorskip("jpeglib")
    path = tmp_path / "image.jpg"
    path.write_bytes(data)
    return jpeglib.read_dct(str(path))


def as_blocks(plane: np.ndarray) -> torch.Tensor:
    """jpeglib's (rows, cols, 8, 8) to (rows, cols, 64) int64, natural row-major order."""
    return torch.from_numpy(plane.astype(np.int64)).reshape(plane.shape[0], plane.shape[1], 64)
