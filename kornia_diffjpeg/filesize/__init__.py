"""JPEG file size: the exact byte count, a smooth differentiable estimate and a trainable regressor."""

from kornia_diffjpeg.filesize.estimate import DiffJPEGFileSize, diff_jpeg_file_size
from kornia_diffjpeg.filesize.exact import jpeg_file_size

__all__: list[str] = ["DiffJPEGFileSize", "diff_jpeg_file_size", "jpeg_file_size"]
