"""The differentiable JPEG codec: stages and their composition."""

from kornia_diffjpeg.codec.color import jfif_color, rgb_to_ycbcr, ycbcr_to_rgb
from kornia_diffjpeg.codec.pipeline import MODES, DiffJPEGCodec, JPEGCoefficients, diff_jpeg, jpeg_decode, jpeg_encode
from kornia_diffjpeg.codec.surrogates import ROUNDING_SURROGATES, differentiable_clip
from kornia_diffjpeg.codec.tables import annex_k_tables

__all__ = [
    "MODES",
    "ROUNDING_SURROGATES",
    "DiffJPEGCodec",
    "JPEGCoefficients",
    "annex_k_tables",
    "diff_jpeg",
    "differentiable_clip",
    "jfif_color",
    "jpeg_decode",
    "jpeg_encode",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
]
