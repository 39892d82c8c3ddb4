"""decode_jpeg against jpeglib's coefficients and OpenCV's pixels, on files OpenCV, Pillow and others wrote."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from kornia_diffjpeg import decode_jpeg, encode_jpeg, jpeg_decode, jpeg_encode
from kornia_diffjpeg.codec.pipeline import JPEGCoefficients
from testing.datasets import COLOR_PHOTO_NAMES, small_crop
from testing.reference import as_blocks, decode, from_uint8, opencv_encode, pillow_encode, read_dct

SUBSAMPLINGS = ("4:2:0", "4:2:2", "4:4:4")
cv2 = pytest.importorskip("cv2")


def _assert_reads_like_jpeglib_and_opencv(data: bytes, tmp_path: Path) -> None:
    coefficients = decode_jpeg(data)
    file = read_dct(data, tmp_path)
    assert torch.equal(coefficients.luma[0, 0].long(), as_blocks(file.Y))
    assert torch.equal(coefficients.qt_y[0].long(), torch.from_numpy(file.qt[file.quant_tbl_no[0]]).long())
    if file.Cb is None:
        assert coefficients.chroma is None
    else:
        chroma = torch.stack([as_blocks(file.Cb), as_blocks(file.Cr)])
        assert torch.equal(coefficients.chroma[0].long(), chroma)
        assert torch.equal(coefficients.qt_c[0].long(), torch.from_numpy(file.qt[file.quant_tbl_no[1]]).long())
    pixels = (jpeg_decode(coefficients, mode="exact") * 255).round().byte()
    pixels = pixels[0] if pixels.shape[0] == 1 else pixels.permute(1, 2, 0)
    assert np.array_equal(pixels.numpy(), decode(data, "opencv"))


@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
def test_opencv_and_pillow_files(subsampling: str, tmp_path: Path) -> None:
    for name in (*COLOR_PHOTO_NAMES, "camera"):
        for size in ((37, 53), (1, 1), (16, 16), (9, 40)):
            array = small_crop(name, *size)
            for quality in (3, 50, 95, 100):
                _assert_reads_like_jpeglib_and_opencv(opencv_encode(array, quality, subsampling), tmp_path)
                data = pillow_encode(array, quality, subsampling, optimize=True)
                _assert_reads_like_jpeglib_and_opencv(data, tmp_path)


def test_shipped_files(tmp_path: Path) -> None:
    """JPEG files shipped by scikit-image (and matplotlib, when installed): cameras' and editors' files."""
    skimage = pytest.importorskip("skimage")
    files = sorted((Path(skimage.__file__).parent / "data").glob("*.jpg"))
    try:
        import matplotlib

        files += sorted((Path(matplotlib.get_data_path()) / "sample_data").glob("*.jpg"))
    except ImportError:
        pass
    assert len(files) >= 3
    for path in files:
        _assert_reads_like_jpeglib_and_opencv(path.read_bytes(), tmp_path)


@pytest.mark.parametrize("interval", [1, 2, 7])
@pytest.mark.parametrize("channels", [1, 3])
def test_restart_markers(interval: int, channels: int, tmp_path: Path) -> None:
    array = small_crop("chelsea", 45, 70)
    array = np.ascontiguousarray(array[..., ::-1] if channels == 3 else array[..., 0])  # OpenCV takes BGR
    ok, buffer = cv2.imencode(".jpg", array, [cv2.IMWRITE_JPEG_QUALITY, 80, cv2.IMWRITE_JPEG_RST_INTERVAL, interval])
    data = buffer.tobytes()
    assert ok and data.count(b"\xff\xd0") > 0
    _assert_reads_like_jpeglib_and_opencv(data, tmp_path)


def _separate_scans(array: np.ndarray, subsampling: str) -> bytes:
    """A baseline file with one scan per component (legal, though OpenCV and Pillow write one scan):
    each component's scan is the scan of a grayscale file of that component's blocks, so every scan
    uses Huffman tables 0 (the luma tables)."""
    full = encode_jpeg(from_uint8(array), 70.0, subsampling=subsampling)[0]
    c = jpeg_encode(from_uint8(array), 70.0, mode="exact", subsampling=subsampling)
    parts = [(c.luma, c.qt_y)] + [(c.chroma[:, k : k + 1], c.qt_c) for k in range(2)]
    start = full.index(b"\xff\xda")  # everything before SOS: the frame and all tables
    scans = []
    for identifier, (blocks, table) in enumerate(parts, start=1):
        rows, cols = blocks.shape[2] * 8, blocks.shape[3] * 8
        gray = JPEGCoefficients(blocks, None, table, None, "4:2:0", (rows, cols))
        gray_file = encode_jpeg(gray)[0]
        scan = gray_file[gray_file.index(b"\xff\xda") + 10 : -2]
        sos = bytes([0xFF, 0xDA, 0, 8, 1, identifier, 0x00, 0, 63, 0])
        scans.append(sos + scan)
    return full[:start] + b"".join(scans) + b"\xff\xd9"


@pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
def test_one_scan_per_component(subsampling: str, tmp_path: Path) -> None:
    array = small_crop("coffee", 37, 53)
    data = _separate_scans(array, subsampling)
    assert data.count(b"\xff\xda") == 3
    _assert_reads_like_jpeglib_and_opencv(data, tmp_path)


def _pillow_file(**options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.fromarray(small_crop("astronaut", 32, 32))
    mode = options.pop("mode", None)
    (image.convert(mode) if mode else image).save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def test_rejects_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="progressive"):
        decode_jpeg(_pillow_file(quality=80, progressive=True))
    ok, buffer = cv2.imencode(".jpg", small_crop("coffee", 24, 24), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    with pytest.raises(ValueError, match="progressive"):
        decode_jpeg(buffer.tobytes())
    with pytest.raises(ValueError, match="4-component"):
        decode_jpeg(_pillow_file(quality=80, mode="CMYK"))
    ok, buffer = cv2.imencode(
        ".jpg", small_crop("coffee", 24, 24), [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_411]
    )
    with pytest.raises(ValueError, match="4x1"):
        decode_jpeg(buffer.tobytes())
    baseline = _pillow_file(quality=80)
    sof = baseline.index(b"\xff\xc0")
    # The frame header of an arithmetic-coded file (SOF9) and of a 12-bit one (SOF1, precision 12);
    # no installed encoder writes them (libjpeg-turbo builds here lack arithmetic coding and 12 bits).
    with pytest.raises(ValueError, match="arithmetic-coded"):
        decode_jpeg(baseline[:sof] + b"\xff\xc9" + baseline[sof + 2 :])
    with pytest.raises(ValueError, match="12-bit"):
        decode_jpeg(baseline[:sof] + b"\xff\xc1" + baseline[sof + 2 : sof + 4] + b"\x0c" + baseline[sof + 5 :])
    with pytest.raises(ValueError, match="JPEG file"):
        decode_jpeg(b"GIF89a....")
    with pytest.raises(ValueError, match="truncated|corrupt"):
        decode_jpeg(baseline[: len(baseline) // 2])
    with pytest.raises(ValueError, match="share"):
        decode_jpeg([baseline, _pillow_file(quality=80, mode="L")])
    with pytest.raises(TypeError, match="data"):
        decode_jpeg("image.jpg")  # type: ignore[arg-type]


def test_batches_devices_and_gradients() -> None:
    images = torch.stack([from_uint8(small_crop(name, 20, 28)) for name in COLOR_PHOTO_NAMES])
    files = encode_jpeg(images, torch.tensor([30.0, 60.0, 90.0]), subsampling="4:2:2")
    batch = decode_jpeg(files, device="cpu", dtype=torch.float64)
    assert batch.batch_shape == (3,) and batch.luma.dtype == torch.float64 and batch.subsampling == "4:2:2"
    one = decode_jpeg(files[1])
    assert one.batch_shape == () and torch.equal(one.luma[0], batch.luma[1].float())
    assert jpeg_decode(one).shape == (3, 20, 28)
    # The decode is differentiable w.r.t. the file's coefficients and tables.
    for tensor in (batch.luma, batch.chroma, batch.qt_y, batch.qt_c):
        tensor.requires_grad_()
    jpeg_decode(batch, mode="exact").square().sum().backward()
    assert all(t.grad is not None and bool(t.grad.abs().sum() > 0) for t in (batch.luma, batch.chroma, batch.qt_y))
