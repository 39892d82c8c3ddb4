"""The exact byte count of the baseline JPEG file libjpeg-turbo writes, from the quantized coefficients.

The file is the headers (their sizes depend only on the component count and on the Huffman tables)
and the entropy-coded scan. The scan is the one :func:`~kornia_diffjpeg.encode_jpeg` writes
(:mod:`kornia_diffjpeg.io.scan`): its bits are packed the same way, and its 0xFF bytes, each followed
by a stuffed 0x00 byte, are counted instead of written.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from kornia_diffjpeg._checks import entry_point
from kornia_diffjpeg.codec.options import Subsampling
from kornia_diffjpeg.codec.pipeline import JPEGCoefficients
from kornia_diffjpeg.io.encode import coefficients_to_code
from kornia_diffjpeg.io.headers import header_size
from kornia_diffjpeg.io.lists import by_size
from kornia_diffjpeg.io.scan import scan_sizes

__all__ = ["header_size", "jpeg_file_size"]


def jpeg_file_size(
    image: torch.Tensor | JPEGCoefficients | Sequence[torch.Tensor],
    quality: float | torch.Tensor | None = None,
    *,
    qt_y: torch.Tensor | None = None,
    qt_c: torch.Tensor | None = None,
    subsampling: Subsampling = "4:2:0",
    optimize: bool = False,
) -> torch.Tensor:
    """The exact byte length of the baseline JPEG file OpenCV and Pillow write, without an encoder.

    The images are coded with :func:`~kornia_diffjpeg.jpeg_encode` in ``mode="exact"`` and the file
    is sized from the coefficients on their device: the JFIF headers, and the Huffman-coded scan with
    its byte stuffing and final padding, as libjpeg-turbo writes them. The result equals
    ``len(cv2.imencode(".jpg", ...)[1])`` and the length of Pillow's ``save(format="JPEG")`` output for
    the same settings (``quality`` or ``qtables``, ``subsampling``, ``optimize``), for the 8-bit image
    ``round(255 * image)`` (a uint8 image itself). No gradient flows; see ``diff_jpeg_file_size`` for a
    differentiable estimate. Vectorized over images and blocks, with a few host syncs (the number of
    coded symbols and the stream's length; ``optimize`` adds a few), so it is not meant for
    ``torch.compile(fullgraph=True)``.

    Args:
        image: float images in [0, 1] or uint8 images in 0..255 (coded as they are, faster),
            (B, C, H, W) or (C, H, W), C = 1 or 3, a list of (C, H, W) images of any sizes on one
            device (sized in batches of one size), or the
            :class:`~kornia_diffjpeg.JPEGCoefficients` of an earlier :func:`~kornia_diffjpeg.jpeg_encode`
            (any mode; coefficients are rounded to integers and must be codable in a baseline scan,
            see :func:`~kornia_diffjpeg.encode_jpeg`). With coefficients, ``quality``, ``qt_y`` and
            ``qt_c`` must be None and ``subsampling`` is taken from them.
        quality: JPEG quality in [0, 100] (rounded to an integer; 0 is coded as 1, as libjpeg does),
            a number or per-sample (B,).
        qt_y: luma quantization table (8, 8) or (B, 8, 8) in [1, 255], as in ``jpeg_encode``.
        qt_c: chroma quantization table, as ``qt_y``.
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"`` (ignored for grayscale).
        optimize: size the file with libjpeg's optimal Huffman tables for each image (Pillow's
            ``optimize=True``, OpenCV's ``IMWRITE_JPEG_OPTIMIZE``) instead of the standard tables.

    Returns:
        File sizes in bytes, int64 on the input's device, of the images' leading shape: (B,) for
        (B, C, H, W) input, 0-d for (C, H, W), (N,) for a list of N images.

    Example:
        >>> image = torch.rand(2, 3, 40, 52)
        >>> jpeg_file_size(image, 75.0).shape
        torch.Size([2])
        >>> int(jpeg_file_size(torch.zeros(1, 8, 8), 50.0))  # 330 header bytes, 2 bytes of data
        332
    """
    if isinstance(image, (list, tuple)):
        sized = by_size(_sizes, image, quality, qt_y, qt_c, subsampling, optimize)
        sizes = torch.zeros(len(image), dtype=torch.int64, device=image[0].device if image else None)
        for indices, group_sizes in sized:
            sizes[indices] = group_sizes
        return sizes
    return _sizes(image, quality, qt_y, qt_c, subsampling, optimize)  # type: ignore[arg-type]


@entry_point  # jpeg_encode checks the values, once per call
def _sizes(
    image: torch.Tensor | JPEGCoefficients,
    quality: float | torch.Tensor | None,
    qt_y: torch.Tensor | None,
    qt_c: torch.Tensor | None,
    subsampling: Subsampling,
    optimize: bool,
) -> torch.Tensor:
    """:func:`jpeg_file_size` of one batch (images of one size, or coefficients)."""
    coefficients = coefficients_to_code(image, quality, qt_y, qt_c, subsampling, optimize)
    shape = coefficients.batch_shape
    if coefficients.luma.shape[0] == 0:  # no image: no file
        return torch.zeros(shape or (0,), dtype=torch.int64, device=coefficients.luma.device)
    scan, tables = scan_sizes(coefficients, optimize)
    sizes = header_size(coefficients.channels, tables.bits.sum((1, 2))) + scan
    return sizes.reshape(sizes.shape if shape is None else shape)
