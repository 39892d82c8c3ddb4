"""Deep codec control: quantization tables for a target file size that keep a vision model's predictions.

:class:`CodecControl` predicts per-image tables from the image and a target size;
:func:`codec_control_loss` trains it; :func:`encode_with_control` writes the files.
"""

from kornia_diffjpeg.codec.tables import standard_tables
from kornia_diffjpeg.control.encode import encode_with_control
from kornia_diffjpeg.control.fit import fit_tables_to_size
from kornia_diffjpeg.control.loss import ControlLoss, bootstrap_loss, codec_control_loss, pseudo_label_cross_entropy
from kornia_diffjpeg.control.network import CodecControl
from kornia_diffjpeg.control.tables import integer_tables
from kornia_diffjpeg.control.targets import binned_target_sizes

__all__ = [
    "CodecControl",
    "ControlLoss",
    "binned_target_sizes",
    "bootstrap_loss",
    "codec_control_loss",
    "encode_with_control",
    "fit_tables_to_size",
    "integer_tables",
    "pseudo_label_cross_entropy",
    "standard_tables",
]
