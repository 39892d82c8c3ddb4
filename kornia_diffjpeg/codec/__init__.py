"""The differentiable JPEG codec: its stages, their composition and its three modes.

:func:`diff_jpeg` codes images; :func:`jpeg_encode` and :func:`jpeg_decode` split it at the
quantized coefficients (:class:`JPEGCoefficients`). The modes are implemented by
:class:`~kornia_diffjpeg.codec.modes.Surrogate`, :class:`~kornia_diffjpeg.codec.modes.STE` and,
for the exact integer face, :class:`~kornia_diffjpeg.codec.modes.Exact`.
"""

from kornia_diffjpeg.codec.color import jfif_color, rgb_to_ycbcr, ycbcr_to_rgb
from kornia_diffjpeg.codec.modes import STE, Exact, Surrogate
from kornia_diffjpeg.codec.options import MODES, SUBSAMPLINGS, ModeName, Subsampling
from kornia_diffjpeg.codec.pipeline import DiffJPEGCodec, JPEGCoefficients, diff_jpeg, jpeg_decode, jpeg_encode
from kornia_diffjpeg.codec.surrogates import ROUNDING_SURROGATES, differentiable_clip
from kornia_diffjpeg.codec.tables import annex_k_tables, standard_tables

__all__ = [
    "MODES",
    "ROUNDING_SURROGATES",
    "STE",
    "SUBSAMPLINGS",
    "DiffJPEGCodec",
    "Exact",
    "JPEGCoefficients",
    "ModeName",
    "Subsampling",
    "Surrogate",
    "annex_k_tables",
    "diff_jpeg",
    "differentiable_clip",
    "jfif_color",
    "jpeg_decode",
    "jpeg_encode",
    "rgb_to_ycbcr",
    "standard_tables",
    "ycbcr_to_rgb",
]
