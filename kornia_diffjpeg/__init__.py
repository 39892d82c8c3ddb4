"""kornia_diffjpeg: JPEG coding as a differentiable layer for PyTorch.

The codec (:func:`diff_jpeg`, :func:`jpeg_encode`, :func:`jpeg_decode`, :class:`DiffJPEGCodec`),
the Kornia augmentations (:class:`DiffJPEG`, :class:`RandomDiffJPEG`) and the file size
(:func:`jpeg_file_size`, :func:`diff_jpeg_file_size`) live at the top level; the namespaces
:mod:`~kornia_diffjpeg.codec`, :mod:`~kornia_diffjpeg.filesize`, :mod:`~kornia_diffjpeg.control`
and :mod:`~kornia_diffjpeg.attacks` hold the rest; real files are written and read by
:func:`encode_jpeg` and :func:`decode_jpeg` (:mod:`~kornia_diffjpeg.io`).
"""

from kornia_diffjpeg import attacks, codec, control, filesize
from kornia_diffjpeg._checks import set_validation, validation_enabled
from kornia_diffjpeg.augmentation import DiffJPEG, RandomDiffJPEG
from kornia_diffjpeg.codec import (
    MODES,
    SUBSAMPLINGS,
    DiffJPEGCodec,
    JPEGCoefficients,
    ModeName,
    Subsampling,
    diff_jpeg,
    jpeg_decode,
    jpeg_encode,
)
from kornia_diffjpeg.filesize import DiffJPEGFileSize, diff_jpeg_file_size, jpeg_file_size
from kornia_diffjpeg.io import decode_jpeg, encode_jpeg

__version__ = "0.2.0"

__all__ = [
    "MODES",
    "SUBSAMPLINGS",
    "DiffJPEG",
    "DiffJPEGCodec",
    "DiffJPEGFileSize",
    "JPEGCoefficients",
    "ModeName",
    "RandomDiffJPEG",
    "Subsampling",
    "attacks",
    "codec",
    "control",
    "decode_jpeg",
    "diff_jpeg",
    "diff_jpeg_file_size",
    "encode_jpeg",
    "filesize",
    "jpeg_decode",
    "jpeg_encode",
    "jpeg_file_size",
    "set_validation",
    "validation_enabled",
]
