"""JPEG file size: the exact byte count, a smooth differentiable estimate and a trainable regressor."""

from kornia_diffjpeg.filesize.estimate import DiffJPEGFileSize, diff_jpeg_file_size
from kornia_diffjpeg.filesize.exact import jpeg_file_size
from kornia_diffjpeg.filesize.regressor import JPEGFileSizeRegressor, file_size_loss

__all__: list[str] = [
    "DiffJPEGFileSize",
    "JPEGFileSizeRegressor",
    "diff_jpeg_file_size",
    "file_size_loss",
    "jpeg_file_size",
]
