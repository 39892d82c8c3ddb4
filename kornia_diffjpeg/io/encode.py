"""Baseline JPEG files, byte for byte what OpenCV and Pillow (libjpeg-turbo) write, from tensors."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from kornia_diffjpeg._checks import check_bool, check_choice, check_coefficients, entry_point, validation_enabled
from kornia_diffjpeg.codec.options import Subsampling
from kornia_diffjpeg.codec.pipeline import JPEGCoefficients, encode_samples_exact
from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS
from kornia_diffjpeg.io.headers import END_OF_IMAGE, WRITERS, header_bytes
from kornia_diffjpeg.io.lists import by_size
from kornia_diffjpeg.io.scan import check_codable, scan_bytes

__all__ = ["encode_jpeg", "coefficients_to_code"]

#: libjpeg's largest image side (JPEG_MAX_DIMENSION).
MAX_DIMENSION = 65500


def coefficients_to_code(
    image: Tensor | JPEGCoefficients,
    quality: float | Tensor | None,
    qt_y: Tensor | None,
    qt_c: Tensor | None,
    subsampling: Subsampling,
    optimize: bool,
) -> JPEGCoefficients:
    """The exact coefficients of float or uint8 images (as ``jpeg_encode(mode="exact")``), or the given ones,
    checked."""
    check_bool("optimize", optimize)
    check_choice("subsampling", subsampling, SUBSAMPLING_FACTORS)  # coefficients have theirs, but no typo passes
    data = image.luma if isinstance(image, JPEGCoefficients) else image
    if isinstance(data, Tensor) and data.is_meta:  # shapes only: there are no bytes to count or write
        raise ValueError("image is on the meta device: a file is made of its values, give a tensor with data")
    if not isinstance(image, JPEGCoefficients):
        return encode_samples_exact(image, quality, qt_y=qt_y, qt_c=qt_c, subsampling=subsampling)
    given = [name for name, v in (("quality", quality), ("qt_y", qt_y), ("qt_c", qt_c)) if v is not None]
    if given:
        raise ValueError(f"{', '.join(given)} must be None when image is JPEGCoefficients (they are coded already)")
    check_coefficients(image, name="image", exact=True)
    if validation_enabled() and not torch.compiler.is_compiling():
        check_codable(image, "image")
    return image


def _integer_tables(coefficients: JPEGCoefficients) -> list[Tensor]:
    """The quantization tables as 8-bit integers; a DQT segment holds only 1..255 here."""
    tables = [t for t in (coefficients.qt_y, coefficients.qt_c) if t is not None]
    batch = coefficients.luma.shape[0]
    tables = [torch.floor(t.detach().double() + 0.5).long().expand(batch, 8, 8) for t in tables]
    low = min(int(t.min()) for t in tables)
    high = max(int(t.max()) for t in tables)
    if low < 1 or high > 255:
        raise ValueError(f"quantization tables must be in [1, 255] to be written (8-bit DQT), got [{low}, {high}]")
    return tables


def encode_jpeg(
    image: Tensor | JPEGCoefficients | Sequence[Tensor],
    quality: float | Tensor | None = None,
    *,
    qt_y: Tensor | None = None,
    qt_c: Tensor | None = None,
    subsampling: Subsampling = "4:2:0",
    optimize: bool = False,
    writer: str = "opencv",
) -> list[bytes]:
    """Write baseline JPEG files, byte-identical to libjpeg-turbo's, without an encoder.

    The images are coded with :func:`~kornia_diffjpeg.jpeg_encode` in ``mode="exact"`` and the
    files are written on their device: headers, then the Huffman-coded scan with its byte stuffing
    and final padding, all vectorized over images and blocks (only the final slicing into ``bytes``
    loops over images). The files equal ``cv2.imencode(".jpg", ...)`` and Pillow's
    ``save(format="JPEG")`` for the same settings (``quality`` or ``qtables``, ``subsampling``,
    ``optimize``) on the 8-bit image ``round(255 * image)`` (a uint8 image itself). Their lengths are what
    :func:`~kornia_diffjpeg.jpeg_file_size` computes (it runs the same coder without writing).

    Args:
        image: float images in [0, 1] or uint8 images in 0..255 (as ``torchvision.io.encode_jpeg``
            and OpenCV take them: coded as they are, faster), (*, C, H, W), C = 1 or 3, H and W at
            most 65500, or a list of (C, H, W) images of any sizes on one device (as
            ``torchvision.io.encode_jpeg`` takes them; coded in batches of one size), or the
            :class:`~kornia_diffjpeg.JPEGCoefficients` of :func:`~kornia_diffjpeg.jpeg_encode` or
            :func:`~kornia_diffjpeg.decode_jpeg` (coefficients are rounded to integers, AC coefficients
            must lie in [-1023, 1023] and consecutive DC coefficients differ by at most 2047, as in a
            baseline file; tables must be integers in [1, 255]). With coefficients, ``quality``,
            ``qt_y`` and ``qt_c`` must be None.
        quality: JPEG quality in [0, 100] (rounded to an integer; 0 is coded as 1, as libjpeg does),
            a number or per-sample (N,) (per image of a list).
        qt_y: luma quantization table (8, 8) or per-sample (N, 8, 8) in [1, 255], as in ``jpeg_encode``
            (with ``quality`` scaled like libjpeg's base tables, without it written as given).
        qt_c: chroma quantization table, as ``qt_y``.
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"``.
        optimize: libjpeg's optimal Huffman tables per image (Pillow's ``optimize=True``, OpenCV's
            ``IMWRITE_JPEG_OPTIMIZE``) instead of the standard tables.
        writer: ``"opencv"`` or ``"pillow"``. Both libraries write the same bytes except for
            grayscale images, whose one component OpenCV declares 1x1 and Pillow with the sampling
            factors of its ``subsampling=`` argument (here ``subsampling``); the coded data is the same.

    Returns:
        One JPEG file (bytes) per image of the flattened leading dimensions.

    Example:
        >>> files = encode_jpeg(torch.rand(2, 3, 20, 30), 75.0)
        >>> len(files), files[0][:4], files[0][-2:]
        (2, b'\\xff\\xd8\\xff\\xe0', b'\\xff\\xd9')
        >>> sizes = [torch.randint(0, 256, (3, h, 40), dtype=torch.uint8) for h in (16, 24, 16)]
        >>> len(encode_jpeg(sizes, torch.tensor([50.0, 75.0, 90.0])))  # one batch per size
        3
    """
    check_choice("writer", writer, WRITERS)
    if isinstance(image, (list, tuple)):
        files: list[bytes] = [b""] * len(image)
        for indices, coded in by_size(_encode_batch, image, quality, qt_y, qt_c, subsampling, optimize, writer):
            for index, data in zip(indices, coded, strict=True):
                files[index] = data
        return files
    return _encode_batch(image, quality, qt_y, qt_c, subsampling, optimize, writer)  # type: ignore[arg-type]


@entry_point  # jpeg_encode checks the values, once per call
def _encode_batch(
    image: Tensor | JPEGCoefficients,
    quality: float | Tensor | None,
    qt_y: Tensor | None,
    qt_c: Tensor | None,
    subsampling: Subsampling,
    optimize: bool,
    writer: str,
) -> list[bytes]:
    """:func:`encode_jpeg` of one batch (images of one size, or coefficients)."""
    coefficients = coefficients_to_code(image, quality, qt_y, qt_c, subsampling, optimize)
    if coefficients.luma.shape[0] == 0:  # no image: no file
        return []
    height, width = coefficients.image_size
    if max(height, width) > MAX_DIMENSION:
        raise ValueError(f"image sides must be at most {MAX_DIMENSION} (libjpeg's limit), got {height}x{width}")
    tables = _integer_tables(coefficients)
    scan = scan_bytes(coefficients, optimize)
    headers, header_lengths = header_bytes(
        tables, scan.tables.bits, scan.tables.values, coefficients.image_size, coefficients.subsampling, writer
    )
    assert scan.data is not None
    header_data, scan_data = headers.cpu().numpy(), scan.data.cpu().numpy()
    header_ends = header_lengths.cumsum(0).tolist()
    scan_ends = scan.lengths.cumsum(0).tolist()
    files, header_start, scan_start = [], 0, 0
    for header_end, scan_end in zip(header_ends, scan_ends, strict=True):
        files.append(
            b"".join(
                (header_data[header_start:header_end].tobytes(), scan_data[scan_start:scan_end].tobytes(), END_OF_IMAGE)
            )
        )
        header_start, scan_start = header_end, scan_end
    return files
