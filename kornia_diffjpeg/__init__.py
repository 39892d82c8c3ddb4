"""kornia_diffjpeg: JPEG coding as a differentiable layer for PyTorch."""

from kornia_diffjpeg import attacks
from kornia_diffjpeg.augmentation import DiffJPEG, RandomDiffJPEG
from kornia_diffjpeg.codec import (
    MODES,
    ROUNDING_SURROGATES,
    DiffJPEGCodec,
    JPEGCoefficients,
    annex_k_tables,
    diff_jpeg,
    jfif_color,
    jpeg_decode,
    jpeg_encode,
)
from kornia_diffjpeg.control import CodecControl, codec_control_loss, encode_with_control
from kornia_diffjpeg.filesize import DiffJPEGFileSize, JPEGFileSizeRegressor, diff_jpeg_file_size, jpeg_file_size

__version__ = "0.1.0"

__all__ = [
    "attacks",
    "MODES",
    "ROUNDING_SURROGATES",
    "CodecControl",
    "DiffJPEG",
    "DiffJPEGCodec",
    "DiffJPEGFileSize",
    "JPEGCoefficients",
    "JPEGFileSizeRegressor",
    "RandomDiffJPEG",
    "annex_k_tables",
    "codec_control_loss",
    "diff_jpeg",
    "diff_jpeg_file_size",
    "encode_with_control",
    "jfif_color",
    "jpeg_decode",
    "jpeg_encode",
    "jpeg_file_size",
]
