"""Real images that install offline, as tensors: photos, labelled ImageNet photos, Fashion-MNIST.

Used by the examples and benchmarks (see ``shared/reference/offline-data.md`` for the sources):

* scikit-image's sample photographs (CC0 / public domain), whole or as random crops;
* foolbox's 20 labelled ImageNet photos (read as files; foolbox itself is never imported);
* Fashion-MNIST from the Debian package ``dataset-fashion-mnist``.

Nothing is downloaded: a missing source raises a clear error saying what to install.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "BENCHMARK_PHOTOS",
    "COLOR_PHOTOS",
    "COLOR_PHOTO_NAMES",
    "PHOTO_NAMES",
    "FASHION_MNIST_DIR",
    "IMAGENET_VIEWS",
    "TEST_PHOTOS",
    "area_downscale",
    "center_crop",
    "GRAY_BENCHMARK_PHOTOS",
    "fashion_mnist",
    "layout_photos",
    "layout_subsampling",
    "odd_crop_cases",
    "random_crop",
    "sparse_frequency_image",
    "synthetic_photo",
    "imagenet_photos",
    "load_photos",
    "photo",
    "photo_crops",
    "small_crop",
]

#: scikit-image color photos never JPEG-compressed before (rocket and retina were, so they are left out).
COLOR_PHOTOS = ("astronaut", "chelsea", "coffee", "immunohistochemistry", "hubble_deep_field", "stereo_motorcycle")
#: The photos of the fidelity and speed benchmarks.
BENCHMARK_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def _to_tensor(array: np.ndarray) -> Tensor:
    """uint8 (H, W[, C]) -> float (C, H, W) in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(array)).float().div_(255.0)
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1).contiguous()


def photo(name: str) -> np.ndarray:
    """A scikit-image sample photo as uint8 (H, W, 3) or (H, W), by its ``skimage.data`` name."""
    from skimage import data

    loader = getattr(data, name, None)
    if loader is None:
        raise ValueError(f"name must be a skimage.data photo such as {COLOR_PHOTOS[0]!r}, got {name!r}")
    array = loader()
    return array[0] if name == "stereo_motorcycle" else array  # a stereo pair: keep the left view


def area_downscale(array: np.ndarray, scale: int) -> np.ndarray:
    """An (H, W[, C]) uint8 array averaged over ``scale`` x ``scale`` cells (trailing rows and columns dropped)."""
    if scale == 1:
        return array
    height, width = array.shape[0] // scale * scale, array.shape[1] // scale * scale
    blocks = array[:height, :width].astype(np.float64)
    blocks = blocks.reshape(height // scale, scale, width // scale, scale, *array.shape[2:])
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)


@functools.cache
def _downscaled_photo(name: str, scale: int) -> np.ndarray:
    """A photo area-downscaled by ``scale`` (cached: crops are drawn from the same few photos)."""
    return area_downscale(photo(name), scale)


def center_crop(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """The central (height, width) window of an (H, W[, C]) array."""
    top, left = (array.shape[0] - height) // 2, (array.shape[1] - width) // 2
    return np.ascontiguousarray(array[top : top + height, left : left + width])


def load_photos(names: Sequence[str] = BENCHMARK_PHOTOS) -> dict[str, np.ndarray]:
    """Photos by name as uint8 arrays, cropped (top-left) to multiples of 16 (whole MCUs)."""
    photos = {}
    for name in names:
        array = photo(name)
        height, width = array.shape[0] // 16 * 16, array.shape[1] // 16 * 16
        photos[name] = np.ascontiguousarray(array[:height, :width])
    return photos


#: The tests' photos: name -> (area downscale factor, (top, left) of the crop in the downscaled photo).
TEST_PHOTOS = {
    "astronaut": (4, (20, 30)),  # face, helmet edges, flag: strong edges and saturated colors
    "chelsea": (3, (20, 40)),  # cat fur: fine texture
    "coffee": (4, (20, 30)),  # cup rim and smooth shading
    "camera": (4, (20, 30)),  # grayscale
}
PHOTO_NAMES = tuple(TEST_PHOTOS)
COLOR_PHOTO_NAMES = ("astronaut", "chelsea", "coffee")


def small_crop(name: str, height: int = 48, width: int = 64) -> np.ndarray:
    """A small uint8 crop of a downscaled photo of :data:`TEST_PHOTOS` (a fresh copy)."""
    factor, (top, left) = TEST_PHOTOS[name]
    crop = _downscaled_photo(name, factor)[top : top + height, left : left + width]
    if crop.shape[:2] != (height, width):
        raise ValueError(f"a {height}x{width} crop does not fit photo {name!r} at {(top, left)}")
    return np.ascontiguousarray(crop).copy()


def photo_crops(
    names: Sequence[str] = COLOR_PHOTOS, count: int = 16, size: int = 224, scale: int = 1, seed: int = 0
) -> Tensor:
    """Random square crops of scikit-image photos, (count, C, size, size) in [0, 1].

    Args:
        names: photos to crop from, taken in turn.
        count: number of crops.
        size: side of each crop.
        scale: area-downscale each photo by this factor first (``2`` shows more content per crop).
        seed: seed of the crop positions.
    """
    if count < 1 or size < 1 or scale < 1:
        raise ValueError(f"count, size and scale must be >= 1, got {count}, {size}, {scale}")
    generator = np.random.default_rng(seed)
    crops = []
    for index in range(count):
        array = _downscaled_photo(names[index % len(names)], scale)
        if min(array.shape[:2]) < size:
            raise ValueError(f"size {size} exceeds photo {names[index % len(names)]!r} of shape {array.shape[:2]}")
        top = int(generator.integers(0, array.shape[0] - size + 1))
        left = int(generator.integers(0, array.shape[1] - size + 1))
        crops.append(_to_tensor(array[top : top + size, left : left + size]))
    return torch.stack(crops)


def _foolbox_data_dir() -> Path:
    spec = importlib.util.find_spec("foolbox")
    if spec is None or spec.origin is None:
        raise ImportError("imagenet_photos needs foolbox's data files: pip install --no-deps foolbox")
    return Path(spec.origin).parent / "data"


#: Square views of a 512x512 photo as (top, left, side): the whole photo, a 384 px center crop and
#: four 400 px corner crops. Each shows the labelled object at a different scale and position.
IMAGENET_VIEWS = ((0, 0, 512), (64, 64, 384), (0, 0, 400), (112, 112, 400), (0, 112, 400), (112, 0, 400))


def imagenet_photos(size: int = 224, views: int = 1) -> tuple[Tensor, Tensor]:
    """foolbox's 20 labelled ImageNet photos, resized (area) to ``size``, optionally in several views.

    Args:
        size: side of the returned images.
        views: views per photo, 1..6, from :data:`IMAGENET_VIEWS` in order (1: the whole photos);
            each view keeps its photo's label. Views are photo-major: photo 0's views come first.

    Returns:
        Images (20 * views, 3, size, size) in [0, 1] and their ImageNet class indices (20 * views,).
    """
    import cv2

    if isinstance(views, bool) or not isinstance(views, int) or not 1 <= views <= len(IMAGENET_VIEWS):
        raise ValueError(f"views must be an int in 1..{len(IMAGENET_VIEWS)}, got {views!r}")
    files = sorted(_foolbox_data_dir().glob("imagenet_*.jpg"))
    if not files:
        raise FileNotFoundError(f"no imagenet_*.jpg in {_foolbox_data_dir()}")
    images, labels = [], []
    for file in files:
        array = cv2.cvtColor(cv2.imread(str(file), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        scale = array.shape[0] / 512.0  # the views are stated for foolbox's 512x512 files
        for top, left, side in IMAGENET_VIEWS[:views]:
            top, left, side = round(top * scale), round(left * scale), round(side * scale)
            view = array[top : top + side, left : left + side]
            images.append(_to_tensor(cv2.resize(view, (size, size), interpolation=cv2.INTER_AREA)))
            labels.append(int(file.stem.split("_")[-1]))
    return torch.stack(images), torch.tensor(labels)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as file:
        raw = file.read()
    dims = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(
    split: str = "train", limit: int | None = None, root: Path = FASHION_MNIST_DIR
) -> tuple[Tensor, Tensor]:
    """Fashion-MNIST from the Debian package ``dataset-fashion-mnist``.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000).
        limit: keep only the first ``limit`` images.
        root: folder holding the four idx ``.gz`` files.

    Returns:
        Images (N, 1, 28, 28) in [0, 1] and labels (N,) in 0..9.
    """
    prefix = {"train": "train", "test": "t10k"}.get(split)
    if prefix is None:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images_path = Path(root) / f"{prefix}-images-idx3-ubyte.gz"
    if not images_path.exists():
        raise FileNotFoundError(f"{images_path} not found: install it with apt-get install dataset-fashion-mnist")
    images = _read_idx(images_path)[:limit]
    labels = _read_idx(Path(root) / f"{prefix}-labels-idx1-ubyte.gz")[:limit]
    return torch.from_numpy(images.copy()).float().div_(255.0).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


#: The grayscale photos of the file benchmarks.
GRAY_BENCHMARK_PHOTOS = ("camera", "moon", "coins")


def layout_subsampling(layout: str) -> str:
    """The ``subsampling=`` of a benchmark layout (``"grayscale"`` is coded with the default)."""
    return "4:2:0" if layout == "grayscale" else layout


def layout_photos(layout: str, quick: bool = False) -> dict[str, np.ndarray]:
    """The color photos (multiples of 16, as :func:`load_photos`) or, for ``"grayscale"``, the gray ones;
    with ``quick``, 96x120 crops of the first two."""
    photos = {name: photo(name) for name in GRAY_BENCHMARK_PHOTOS} if layout == "grayscale" else load_photos()
    if quick:
        photos = {name: np.ascontiguousarray(array[:96, :120]) for name, array in list(photos.items())[:2]}
    return photos


def random_crop(rng: np.random.Generator, layout: str, largest: int) -> np.ndarray:
    """A crop of odd height and width in 1..``largest`` at a random place of a gray or color photo."""
    names = GRAY_BENCHMARK_PHOTOS if layout == "grayscale" else ("astronaut", "coffee")
    array = photo(names[int(rng.integers(len(names)))])
    height, width = (int(rng.integers(1, largest + 1) | 1) for _ in range(2))
    top, left = int(rng.integers(array.shape[0] - height + 1)), int(rng.integers(array.shape[1] - width + 1))
    return np.ascontiguousarray(array[top : top + height, left : left + width])


def synthetic_photo(seed: int, height: int, width: int, channels: int) -> np.ndarray:
    """A smooth gradient with noise and a few sharp edges, uint8: photo-like statistics with many symbols."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    image = rng.uniform(0, 255) + rng.uniform(-3, 3) * x + rng.uniform(-3, 3) * y
    image = image[..., None] + rng.normal(0, rng.choice([0, 4, 30, 90]), (height, width, channels))
    image[rng.uniform(size=(height, width)) < rng.uniform(0, 0.1)] += 120
    array = np.clip(image, 0, 255).astype(np.uint8)
    return array[..., 0] if channels == 1 else array


def odd_crop_cases(
    rng: np.random.Generator, layout: str, count: int, tables: bool
) -> Iterator[tuple[np.ndarray, bool, int | None, tuple[np.ndarray, np.ndarray] | None]]:
    """``count`` file-benchmark cases ``(crop, optimize, quality, tables)``: odd crops up to 301 px
    (:func:`random_crop`), ``optimize`` at random, and a quality in 1..100 or, with ``tables``, two
    random (8, 8) tables with entries up to 8, 40 or 255."""
    for _ in range(count):
        array = random_crop(rng, layout, 301)
        optimize = bool(rng.integers(2))
        if tables:
            top = int(rng.choice([8, 40, 255]))
            yield array, optimize, None, (rng.integers(1, top + 1, (8, 8)), rng.integers(1, top + 1, (8, 8)))
        else:
            yield array, optimize, int(rng.integers(1, 101)), None


def sparse_frequency_image(seed: int = 0) -> np.ndarray:
    """A 48x72 uint8 image of 6x9 blocks, each one cosine of a random frequency and amplitude: single
    high-frequency coefficients, so runs of 16 and more zeros (ZRL symbols) and rare Huffman codes."""
    rng = np.random.default_rng(seed)
    blocks = np.full((6, 9, 8, 8), 128.0)
    u, v = rng.integers(0, 8, (2, 6, 9))
    y, x = np.mgrid[0:8, 0:8]
    waves = np.cos((2 * y + 1) * u[..., None, None] * np.pi / 16) * np.cos(
        (2 * x + 1) * v[..., None, None] * np.pi / 16
    )
    blocks += rng.uniform(20, 120, (6, 9, 1, 1)) * waves
    return np.clip(blocks.transpose(0, 2, 1, 3).reshape(48, 72), 0, 255).astype(np.uint8)
