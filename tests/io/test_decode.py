"""decode_jpeg against jpeglib's coefficients and OpenCV's pixels, on files OpenCV, Pillow and others wrote."""

from __future__ import annotations

import io
import tracemalloc
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


@pytest.fixture(autouse=True, params=["run tables", "one symbol at a time"])
def huffman_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test reads files both ways: AC symbols taken whole from run tables wherever they can be (built
    for every table at once), and one symbol per look-up (no run tables)."""
    import kornia_diffjpeg.io.decode as decoder
    import kornia_diffjpeg.io.runs as runs

    if request.param == "run tables":
        monkeypatch.setattr(runs, "RUN_TABLE_BLOCKS", 0)
    else:
        monkeypatch.setattr(decoder, "run_table", lambda key, single, blocks: None)
    return request.param


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


# ---------------------------------------------------------------------------------------------
# Corrupt and hostile files: a ValueError that says what is wrong, or jpeglib's coefficients.
# ---------------------------------------------------------------------------------------------


def _assert_value_error_or_jpeglib(data: bytes, tmp_path: Path) -> bool:
    """Either decode_jpeg raises a ValueError, or it reads what jpeglib reads; returns whether it read."""
    try:
        coefficients = decode_jpeg(data)
    except ValueError:
        return False
    file = read_dct(data, tmp_path)
    planes = [file.Y] if file.Cb is None else [file.Y, file.Cb, file.Cr]
    ours = (
        [coefficients.luma[0, 0]] if coefficients.chroma is None else [coefficients.luma[0, 0], *coefficients.chroma[0]]
    )
    assert len(ours) == len(planes)
    for mine, theirs in zip(ours, planes, strict=True):
        assert torch.equal(mine.long(), as_blocks(theirs))
    return True


def _small_files() -> list[bytes]:
    ok, restart = cv2.imencode(
        ".jpg", small_crop("coffee", 20, 20), [cv2.IMWRITE_JPEG_QUALITY, 80, cv2.IMWRITE_JPEG_RST_INTERVAL, 1]
    )
    return [
        opencv_encode(small_crop("coffee", 9, 9)[..., 0], 60),
        opencv_encode(small_crop("coffee", 13, 21), 75, "4:2:0"),
        pillow_encode(small_crop("chelsea", 17, 11), 90, "4:4:4", optimize=True),
        restart.tobytes(),
    ]


def test_every_truncation_raises_value_error(tmp_path: Path) -> None:
    for data in _small_files():
        for end in range(len(data) - 1):  # the last byte cut: EOI's second byte, which libjpeg does not need
            with pytest.raises(ValueError):
                decode_jpeg(data[:end])


def test_random_byte_changes_raise_value_error_or_read_like_jpeglib(tmp_path: Path) -> None:
    """Seeded byte changes in the headers and in the scan (wrong lengths, counts, markers, codes)."""
    rng = np.random.default_rng(0)
    read = 0
    for data in _small_files():
        for _ in range(100):
            changed = bytearray(data)
            for _ in range(int(rng.integers(1, 3))):
                # Half of the changes in the headers, where every byte has a meaning.
                position = int(rng.integers(len(data) if rng.random() < 0.5 else data.index(b"\xff\xda") + 12))
                changed[position] = int(rng.integers(256))
            read += _assert_value_error_or_jpeglib(bytes(changed), tmp_path)
    assert read > 50  # many changes (in pixel data, in unused bytes) leave a file libjpeg reads


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + (len(body) + 2).to_bytes(2, "big") + body


def _replace_segment(data: bytes, marker: int, segment: bytes) -> bytes:
    """``data`` with its first segment of ``marker`` replaced by ``segment``."""
    start = data.index(bytes([0xFF, marker]))
    end = start + 2 + int.from_bytes(data[start + 2 : start + 4], "big")
    return data[:start] + segment + data[end:]


def _gray_file(width: int = 16) -> bytes:
    return encode_jpeg(torch.full((1, 8, width), 0.5), 50.0)[0]


def _malformed_files() -> list:
    gray = _gray_file()
    color = encode_jpeg(torch.full((3, 16, 16), 0.5), 50.0)[0]
    sof = gray[gray.index(b"\xff\xc0") :][:13]
    dqt = gray[gray.index(b"\xff\xdb") :][:69]
    dht = gray[gray.index(b"\xff\xc4") :][:33]  # the DC table: 16 counts, 12 symbols
    sos_at = gray.index(b"\xff\xda")
    scan_at = sos_at + 10
    cases = [
        # Huffman tables: more codes than 16 bits give, than the segment holds, than 256; DC symbol > 15.
        (
            "dht-overflow",
            _replace_segment(gray, 0xC4, _segment(0xC4, b"\x00\x03" + bytes(15) + b"\x00\x01\x02")),
            "Huffman",
        ),
        ("dht-count-past-segment", _replace_segment(gray, 0xC4, dht[:4] + b"\x00\x00\xff" + dht[7:]), "DHT"),
        (
            "dht-300-codes",
            _replace_segment(gray, 0xC4, _segment(0xC4, b"\x00" + bytes(15) + b"\xff" + bytes(300))),
            "DHT",
        ),
        ("dht-no-counts", _replace_segment(gray, 0xC4, _segment(0xC4, b"\x00\x01\x02")), "DHT"),
        ("dht-class-2", _replace_segment(gray, 0xC4, dht[:4] + b"\x20" + dht[5:]), "DHT"),
        ("dht-dc-symbol-16", _replace_segment(gray, 0xC4, dht[:21] + b"\x10" + dht[22:]), "DC symbol"),
        # Quantization tables: no entries, partial, index 4, 12-bit precision, zeros, 16-bit entries > 255.
        ("dqt-0-entries", _replace_segment(gray, 0xDB, _segment(0xDB, b"\x00")), "DQT"),
        ("dqt-partial", _replace_segment(gray, 0xDB, _segment(0xDB, dqt[4:40])), "DQT"),
        ("dqt-index-4", _replace_segment(gray, 0xDB, dqt[:4] + b"\x04" + dqt[5:]), "DQT"),
        ("dqt-precision-2", _replace_segment(gray, 0xDB, dqt[:4] + b"\x20" + dqt[5:]), "DQT"),
        ("dqt-zeros", _replace_segment(gray, 0xDB, _segment(0xDB, bytes(65))), r"quantization table 0.*\[0, 0\]"),
        (
            "dqt-16-bit-1000",
            _replace_segment(gray, 0xDB, _segment(0xDB, b"\x10" + b"\x03\xe8" * 64)),
            r"\[1000, 1000\]",
        ),
        ("dqt-undefined", _replace_segment(gray, 0xDB, b""), "does not define"),
        # Frame headers: width 0, 5 components in a 1-component segment, sampling 0x0 and 5x1, twice.
        ("sof-width-0", _replace_segment(gray, 0xC0, sof[:7] + b"\x00\x00" + sof[9:]), "width 0"),
        ("sof-5-components", _replace_segment(gray, 0xC0, sof[:9] + b"\x05" + sof[10:]), "SOF"),
        ("sof-0-components", _replace_segment(gray, 0xC0, _segment(0xC0, sof[4:9] + b"\x00")), "SOF"),
        ("sof-short", _replace_segment(gray, 0xC0, _segment(0xC0, sof[4:8])), "SOF"),
        ("sof-sampling-0", _replace_segment(gray, 0xC0, sof[:11] + b"\x00" + sof[12:]), "sampling factors 0x0"),
        ("sof-sampling-5", _replace_segment(gray, 0xC0, sof[:11] + b"\x51" + sof[12:]), "sampling factors 5x1"),
        ("sof-twice", gray[:sos_at] + sof + gray[sos_at:], "two frame headers"),
        (
            "sof-same-id",
            _replace_segment(color, 0xC0, _segment(0xC0, b"\x08\x00\x10\x00\x10\x03" + b"\x01\x22\x00" * 3)),
            "twice",
        ),
        # Scan headers: 0 components, a length that disagrees with the count, a component scanned twice.
        ("sos-0-components", gray[:sos_at] + _segment(0xDA, b"\x00\x00\x3f\x00") + gray[scan_at:], "SOS"),
        ("sos-length", gray[:sos_at] + _segment(0xDA, b"\x02\x01\x00\x00\x3f\x00") + gray[scan_at:], "SOS"),
        ("sos-twice", gray[:-2] + gray[sos_at:], "two scans"),
        # Restart intervals: DRI of 3 bytes, intervals that do not match, markers out of order.
        ("dri-length", gray[:sos_at] + _segment(0xDD, b"\x00\x01\x00") + gray[sos_at:], "DRI"),
        ("dri-mismatch", gray[:sos_at] + _segment(0xDD, b"\x00\x01") + gray[sos_at:], "restart intervals"),
        # Markers: lengths 0 and 1 and past the end, a reserved marker, a second SOI, no EOI.
        ("length-0", gray[:2] + b"\xff\xe1\x00\x00" + gray[2:], "length 0"),
        ("length-1", gray[:2] + b"\xff\xe1\x00\x01" + gray[2:], "length 1"),
        ("length-past-end", gray[:2] + b"\xff\xe1\xff\xff" + gray[2:], "length 65535"),
        ("reserved-marker", gray[:2] + _segment(0x60, b"junk") + gray[2:], "unknown"),
        ("second-soi", gray[:2] + gray, "0xd8"),
        ("no-eoi", gray[:-2], "not terminated"),
        ("no-scan", gray[:sos_at] + b"\xff\xd9", "no scan"),
    ]
    return [pytest.param(data, match, id=name) for name, data, match in cases]


@pytest.mark.parametrize(("data", "match"), _malformed_files())
def test_malformed_segments_raise_value_error(data: bytes, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decode_jpeg(data)


def test_restart_markers_out_of_order() -> None:
    ok, buffer = cv2.imencode(
        ".jpg", small_crop("coffee", 24, 24), [cv2.IMWRITE_JPEG_QUALITY, 80, cv2.IMWRITE_JPEG_RST_INTERVAL, 1]
    )
    data = buffer.tobytes().replace(b"\xff\xd1", b"\xff\xd2", 1)
    with pytest.raises(ValueError, match="restart markers are out of order"):
        decode_jpeg(data)


def test_huge_size_claimed_by_a_small_file_is_refused_at_once() -> None:
    """A few hundred bytes that claim 65500 x 65500 pixels: refused before a grid of 67M blocks is built
    (which took minutes and tens of GB)."""
    gray = _gray_file()
    sof = gray.index(b"\xff\xc0")
    data = gray[: sof + 5] + b"\xff\xdc\xff\xdc" + gray[sof + 9 :]
    tracemalloc.start()  # NumPy reports its buffers to tracemalloc
    try:
        with pytest.raises(ValueError, match="scan ends before its last block"):
            decode_jpeg(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20


def test_dc_overflow_wraps_like_libjpeg(tmp_path: Path) -> None:
    """Blocks whose DC differences are all +2047 (standard code 111111110, 11 one bits, EOB 1010: the
    stuffed bytes ff 00 7f fa): the DC passes 32767 after 16 blocks and libjpeg stores it as a 16-bit
    coefficient. It used to spill into the block's first AC coefficient."""
    blocks = 20
    gray = _gray_file(8 * blocks)
    data = gray[: gray.index(b"\xff\xda") + 10] + b"\xff\x00\x7f\xfa" * blocks + b"\xff\xd9"
    assert _assert_value_error_or_jpeglib(data, tmp_path)
    assert int(decode_jpeg(data).luma[0, 0, 0, -1, 0]) == 2047 * blocks - 65536


def test_markers_libjpeg_skips(tmp_path: Path) -> None:
    """COM, APPn, DNL and standalone RST/TEM markers among the headers are skipped, as libjpeg does."""
    gray = _gray_file()
    extra = _segment(0xFE, b"comment") + _segment(0xE5, b"\xff\xff") + b"\xff\x01\xff\xd3" + b"\xff\xff"
    data = gray[:2] + extra + gray[2:]
    assert _assert_value_error_or_jpeglib(data, tmp_path)
    assert torch.equal(decode_jpeg(data).luma, decode_jpeg(gray).luma)


@pytest.mark.parametrize(
    "data",
    # sets and mappings hold files in no defined order (a mapping iterates over its keys)
    [5, None, "image.jpg", [b"\xff\xd8", "x"], [], np.zeros(10, np.uint8), {b"\xff\xd8"}, {b"\xff\xd8": 0}],
)
def test_data_must_be_bytes(data) -> None:
    with pytest.raises(TypeError, match="data must be bytes"):
        decode_jpeg(data)


def test_bytes_like_inputs() -> None:
    data = encode_jpeg(torch.rand(3, 16, 16), 80.0)[0]
    expected = decode_jpeg(data).luma
    for same in (bytearray(data), memoryview(data), (d for d in [data]), (data,)):
        assert torch.equal(decode_jpeg(same).luma.reshape(expected.shape), expected)


@pytest.mark.parametrize("dtype", [torch.int32, torch.uint8, torch.complex64, "float32", None])
def test_dtype_must_be_floating(dtype) -> None:
    data = encode_jpeg(torch.rand(3, 16, 16), 80.0)[0]
    with pytest.raises(TypeError, match="dtype"):
        decode_jpeg(data, dtype=dtype)


@pytest.mark.parametrize("device", ["gpu0", 3.5])
def test_device_must_be_a_device(device) -> None:
    data = encode_jpeg(torch.rand(3, 16, 16), 80.0)[0]
    with pytest.raises(ValueError, match="device"):
        decode_jpeg(data, device=device)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_keeps_coefficients_exact(dtype: torch.dtype) -> None:
    """Quality 100 coefficients pass 256 (bfloat16) and 2048 (float16 in a 4:4:4 DC of a bright image):
    they are held in float32, and the decoded images equal the float32 ones in ``dtype``."""
    image = torch.rand(3, 24, 24)
    image[:, :8, :8] = 1.0
    data = encode_jpeg(image, 100.0, subsampling="4:4:4")[0]
    full = decode_jpeg(data)
    half = decode_jpeg(data, dtype=dtype)
    assert full.luma.abs().max() > 256
    assert torch.equal(half.luma, full.luma) and torch.equal(half.chroma, full.chroma)
    decoded = jpeg_decode(half, mode="exact")
    assert decoded.dtype == dtype
    assert torch.equal(decoded, jpeg_decode(full, mode="exact").to(dtype))


def test_rgb_components_follow_libjpegs_color_rule(tmp_path: Path) -> None:
    """Three components are YCbCr with a JFIF marker, whatever the Adobe marker says; without it, Adobe's
    transform 0 or the component ids 'R', 'G', 'B' mean RGB, which JPEGCoefficients cannot hold."""
    rgb = _pillow_file(quality=80, keep_rgb=True)  # Adobe transform 0, components 'R', 'G', 'B'
    assert rgb[rgb.index(b"\xff\xc0") + 10 : rgb.index(b"\xff\xc0") + 11] == b"R"
    with pytest.raises(ValueError, match="Adobe JPEG with RGB"):
        decode_jpeg(rgb)
    adobe = rgb.index(b"\xff\xee")
    no_adobe = rgb[:adobe] + rgb[adobe + 2 + int.from_bytes(rgb[adobe + 2 : adobe + 4], "big") :]
    with pytest.raises(ValueError, match="RGB JPEG"):  # it used to be read as YCbCr: other colors than cv2's
        decode_jpeg(no_adobe)
    jfif = bytes.fromhex("ffe000104a46494600010100000100010000")
    _assert_reads_like_jpeglib_and_opencv(rgb[:2] + jfif + rgb[2:], tmp_path)  # libjpeg reads YCbCr


def test_tables_defined_between_scans(tmp_path: Path) -> None:
    """libjpeg takes a component's quantization table when its first scan starts: a chroma DQT may come
    after the luma scan, and a table redefined after its component's scan does not change that component."""
    data = _separate_scans(small_crop("coffee", 37, 53), "4:2:0")
    dqt = data.index(b"\xff\xdb\x00\x43\x01")  # the chroma table
    chroma_dqt = data[dqt : dqt + 69]
    without = data[:dqt] + data[dqt + 69 :]
    second_scan = without.index(b"\xff\xda", without.index(b"\xff\xda") + 2)
    late = without[:second_scan] + chroma_dqt + without[second_scan:]
    _assert_reads_like_jpeglib_and_opencv(late, tmp_path)
    redefined = late[:second_scan] + _segment(0xDB, b"\x00" + bytes([200]) * 64) + late[second_scan:]
    coefficients = decode_jpeg(redefined)
    assert torch.equal(coefficients.qt_y, decode_jpeg(data).qt_y)
    pixels = (jpeg_decode(coefficients, mode="exact") * 255).round().byte().permute(1, 2, 0)
    assert np.array_equal(pixels.numpy(), decode(redefined, "opencv"))


def test_cb_and_cr_tables_compared_by_content(tmp_path: Path) -> None:
    """Cr naming table 2, a copy of Cb's table 1: one chroma table (it was refused by its index)."""
    data = opencv_encode(small_crop("coffee", 16, 24), 80)
    dqt = data.index(b"\xff\xdb\x00\x43\x01")
    copy = data[dqt : dqt + 4] + b"\x02" + data[dqt + 5 : dqt + 69]
    sof = data.index(b"\xff\xc0")
    cr_table = sof + 2 + 2 + 6 + 3 * 2 + 2  # the table byte of the third component
    assert data[cr_table] == 1
    data = data[: dqt + 69] + copy + data[dqt + 69 : cr_table] + b"\x02" + data[cr_table + 1 :]
    _assert_reads_like_jpeglib_and_opencv(data, tmp_path)
    different = data.replace(copy, copy[:5] + bytes([3]) * 64)
    with pytest.raises(ValueError, match="Cb and Cr use different quantization tables"):
        decode_jpeg(different)


@pytest.mark.parametrize(
    ("subsampling", "factors"),
    [
        ("4:4:4", (0x22, 0x22, 0x22)),
        ("4:4:4", (0x12, 0x12, 0x12)),
        ("4:2:2", (0x42, 0x22, 0x22)),
        ("4:2:0", (0x44, 0x22, 0x22)),
    ],
)
def test_sampling_factors_with_a_common_multiple(subsampling: str, factors: tuple[int, ...], tmp_path: Path) -> None:
    """Factors 2x2, 2x2, 2x2 are 4:4:4 for libjpeg (it upsamples by their ratio); they were refused. With
    one scan per component the scans do not depend on the factors, so the file is rewritten in place."""
    data = bytearray(_separate_scans(small_crop("coffee", 37, 53), subsampling))
    sof = data.index(b"\xff\xc0")
    for component, factor in enumerate(factors):
        data[sof + 11 + 3 * component] = factor
    _assert_reads_like_jpeglib_and_opencv(bytes(data), tmp_path)
    assert decode_jpeg(bytes(data)).subsampling == subsampling


def test_run_tables_on_blocks_that_fill_every_coefficient_and_long_zero_runs(tmp_path: Path) -> None:
    """Noise at quality 100 codes a value at position 63 (no end of block follows it), sparse high
    frequencies code runs of 16 zeros (ZRL), optimized tables give short and long codes; per-image tables
    are first seen in a small scan (one symbol at a time unless built on purpose)."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(3, 24, 40, generator=generator)
    sparse = torch.zeros(1, 32, 32)
    sparse[0, 7::8, 7::8] = 1.0  # one bright pixel per block: every frequency, small values
    for image in (noise, sparse, noise[:1]):
        for quality in (100.0, 90.0, 30.0):
            for optimize in (False, True):
                _assert_reads_like_jpeglib_and_opencv(encode_jpeg(image, quality, optimize=optimize)[0], tmp_path)


def test_run_tables_are_built_for_tables_seen_again_or_large_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    import kornia_diffjpeg.io.decode as decoder
    import kornia_diffjpeg.io.runs as runs

    monkeypatch.setattr(decoder, "run_table", runs.run_table)  # the real policy, whatever the fixture set
    monkeypatch.setattr(runs, "RUN_TABLE_BLOCKS", 1000)
    monkeypatch.setattr(runs, "_TABLES", runs.OrderedDict())
    monkeypatch.setattr(runs, "_SEEN", runs.OrderedDict())
    small = encode_jpeg(torch.rand(1, 16, 16), 75.0, optimize=True)[0]  # 4 blocks, its own AC table
    decode_jpeg(small)
    assert len(runs._SEEN) == 1 and not runs._TABLES  # seen once: not built
    decode_jpeg(small)
    assert not runs._SEEN and len(runs._TABLES) == 1  # seen again: built
    large = encode_jpeg(torch.rand(1, 256, 256), 75.0, optimize=True)[0]  # 1024 blocks
    decode_jpeg(large)
    assert not runs._SEEN and len(runs._TABLES) == 2  # new, in a large scan: built at once
    for _ in range(runs._KEPT):  # the least recently used tables make way
        decode_jpeg(encode_jpeg(torch.rand(1, 256, 256), 75.0, optimize=True)[0])
    assert len(runs._TABLES) == runs._KEPT


def _prefix_decode(bits: tuple[int, ...], values: bytes, ac: bool, look: int) -> tuple[int, int, int]:
    """The one-symbol table's entry for ``look`` by matching the canonical codes as bit strings."""
    code, k, text = 0, 0, format(look, "016b")
    for length, count in enumerate(bits, 1):
        for _ in range(count):
            symbol = values[k]
            if text.startswith(format(code, f"0{length}b")):
                size, run = (symbol & 15, symbol >> 4) if ac else (symbol, 0)
                if ac and size == 0:
                    run = 15 if symbol == 0xF0 else 64
                if length + size > 16:
                    return -length, symbol, 0
                extra = int(text[length : length + size], 2) if size else 0
                value = extra - (1 << size) + 1 if size and extra < 1 << (size - 1) else extra
                return length + size, run, value
            code, k = code + 1, k + 1
        code <<= 1
    return 0, 0, 0


def test_lookup_tables_match_the_canonical_codes() -> None:
    """The one-symbol tables (built with NumPy) against the codes matched bit by bit: the standard tables,
    random complete and incomplete ones, a lone 16-bit code and an empty table."""
    from kornia_diffjpeg.filesize.huffman import STANDARD_HUFFMAN
    from kornia_diffjpeg.io.decode import _lookup_table

    tables = [(tuple(c), bytes.fromhex(h), n.startswith("ac")) for n, (c, h) in STANDARD_HUFFMAN.items()]
    rng = np.random.default_rng(5)
    for ac in (False, True, True):
        counts, code = [], 0
        for length in range(1, 17):
            count = int(rng.integers(0, min((1 << length) - code, 30 if ac else 3) + 1))
            counts.append(count)
            code = (code + count) << 1
        symbols = rng.integers(0, 256 if ac else 16, sum(counts)).astype(np.uint8).tobytes()
        tables.append((tuple(counts), symbols, ac))
    tables += [((0,) * 15 + (1,), b"\x05", False), ((0,) * 16, b"", True), ((2,) + (0,) * 15, b"\x00\xf0", True)]
    for bits, values, ac in tables:
        table = _lookup_table(bits, values, ac)
        assert len(table) == 65536
        for look in range(0, 65536, 97):
            assert table[look] == _prefix_decode(bits, values, ac, look), (bits, look)


def test_file_bytes_as_uint8_tensors() -> None:
    """As ``torchvision.io.read_file`` gives them (and ``torchvision.io.decode_jpeg`` takes them)."""
    files = encode_jpeg(torch.rand(2, 3, 16, 24), 80.0)
    tensors = [torch.frombuffer(bytearray(f), dtype=torch.uint8) for f in files]
    expected = decode_jpeg(files)
    assert torch.equal(decode_jpeg(tensors).luma, expected.luma)
    assert torch.equal(decode_jpeg(tensors[1]).chroma[0], expected.chroma[1])  # one file: batch_shape ()
    assert torch.equal(decode_jpeg([files[0], tensors[1]]).luma, expected.luma)
    for bad in (tensors[0].int(), tensors[0][None], tensors[0].to("meta")):
        with pytest.raises(TypeError, match="1-D uint8 tensor"):
            decode_jpeg(bad)
    strided = torch.zeros(2 * len(files[0]), dtype=torch.uint8)
    strided[::2] = tensors[0]
    assert torch.equal(decode_jpeg(strided[::2]).luma, decode_jpeg(files[0]).luma)


@pytest.mark.parametrize(
    ("data", "got"),
    [
        ([b"\xff\xd8", 5], "got list whose data[1] is int"),
        ([torch.zeros(1, 8, dtype=torch.uint8)], "whose data[0] is a torch.uint8 tensor of shape (1, 8) on cpu"),
        ((torch.zeros(8, dtype=torch.uint8, device="meta"),), "data[0] is a torch.uint8 tensor of shape (8,) on meta"),
        (torch.zeros(8, dtype=torch.int32), "got a torch.int32 tensor of shape (8,) on cpu"),
        ({0: b"\xff\xd8"}, "got dict"),
    ],
)
def test_data_that_is_not_files_is_described(data, got: str) -> None:
    """The message says which item of a sequence is not a file, and what a tensor is (it said "got list")."""
    with pytest.raises(TypeError, match="data must be bytes") as info:
        decode_jpeg(data)
    assert str(info.value).endswith(got), str(info.value)
