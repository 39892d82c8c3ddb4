"""The real codec (libjpeg-turbo through OpenCV and Pillow), for tests, benchmarks and examples.

Images here are uint8 numpy arrays, (H, W, 3) RGB or (H, W) grayscale.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

__all__ = [
    "PILLOW_SUBSAMPLING",
    "OPENCV_SAMPLING_FACTOR",
    "opencv_jpeg",
    "opencv_encode",
    "pillow_encode",
    "pillow_jpeg",
    "decode",
    "to_uint8",
    "from_uint8",
    "read_dct",
    "as_blocks",
]

#: Pillow's ``subsampling=`` value of each chroma layout.
PILLOW_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}
#: OpenCV's ``IMWRITE_JPEG_SAMPLING_FACTOR`` value of each chroma layout.
OPENCV_SAMPLING_FACTOR = {"4:4:4": 0x111111, "4:2:2": 0x211111, "4:2:0": 0x221111}


def to_uint8(image) -> np.ndarray:
    """A float tensor or array (C, H, W) in [0, 1] to the uint8 (H, W, C) / (H, W) the codecs take."""
    array = image.detach().cpu().double().numpy() if hasattr(image, "detach") else np.asarray(image, np.float64)
    array = np.clip(np.floor(array * 255.0 + 0.5), 0, 255).astype(np.uint8)
    return array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0))


def from_uint8(array: np.ndarray):
    """uint8 (H, W, C) / (H, W) to a float32 tensor (C, H, W) in [0, 1]."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(array)).float() / 255.0
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)


def opencv_encode(array: np.ndarray, quality: int, subsampling: str = "4:2:0", optimize: bool = False) -> bytes:
    """JPEG bytes written by ``cv2.imencode`` (RGB input; the BGR swap is done here)."""
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_OPTIMIZE, int(optimize)]
    if array.ndim == 3:
        array = array[..., ::-1]
        params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, OPENCV_SAMPLING_FACTOR[subsampling]]
    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(array), params)
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    return buffer.tobytes()


def pillow_encode(
    array: np.ndarray,
    quality: int | None = None,
    subsampling: str = "4:2:0",
    qtables: Sequence[Sequence[int]] | None = None,
    optimize: bool = False,
) -> bytes:
    """JPEG bytes written by Pillow; ``qtables`` are natural-order tables (luma, chroma)."""
    from PIL import Image

    options = {"subsampling": PILLOW_SUBSAMPLING[subsampling], "optimize": optimize}
    if qtables is not None:
        options["qtables"] = [list(map(int, np.asarray(t).reshape(64))) for t in qtables]
    else:
        options["quality"] = int(quality)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def decode(data: bytes, library: str = "opencv") -> np.ndarray:
    """Decode JPEG bytes to uint8 RGB (H, W, 3) or grayscale (H, W)."""
    if library == "opencv":
        import cv2

        array = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        return array if array.ndim == 2 else np.ascontiguousarray(array[..., ::-1])
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)))


def opencv_jpeg(array: np.ndarray, quality: int, subsampling: str = "4:2:0") -> np.ndarray:
    """OpenCV's decode of OpenCV's encode."""
    return decode(opencv_encode(array, quality, subsampling), "opencv")


def pillow_jpeg(
    array: np.ndarray,
    quality: int | None = None,
    subsampling: str = "4:2:0",
    qtables: Sequence[Sequence[int]] | None = None,
) -> np.ndarray:
    """Pillow's decode of Pillow's encode."""
    return decode(pillow_encode(array, quality, subsampling, qtables), "pillow")


def read_dct(data: bytes, tmp_path):  # noqa: ANN201 (jpeglib.DCTJPEG)
    """The DCT coefficients stored in JPEG bytes, read with jpeglib (a test that calls it skips without it)."""
    import pytest

    jpeglib = pytest.importorskip("jpeglib")
    path = tmp_path / "image.jpg"
    path.write_bytes(data)
    return jpeglib.read_dct(str(path))


def as_blocks(plane: np.ndarray):  # noqa: ANN201 (torch.Tensor)
    """jpeglib's (rows, cols, 8, 8) to (rows, cols, 64) int64 blocks, natural row-major order."""
    import torch

    return torch.from_numpy(plane.astype(np.int64)).reshape(plane.shape[0], plane.shape[1], 64)
