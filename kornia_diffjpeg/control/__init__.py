"""Deep codec control: quantization tables for a target file size that keep a vision model's predictions."""

from kornia_diffjpeg.control.encode import encode_with_control
from kornia_diffjpeg.control.fit import fit_tables_to_size
from kornia_diffjpeg.control.loss import ControlLoss, codec_control_loss, pseudo_label_cross_entropy
from kornia_diffjpeg.control.network import (
    CodecControl,
    ConditionalBatchNorm2d,
    ConditionalResidualBlock,
    dct_statistics,
    small_backbone,
)
from kornia_diffjpeg.control.tables import integer_tables
from kornia_diffjpeg.control.training import binned_target_sizes, bootstrap_loss, standard_tables

__all__ = [
    "CodecControl",
    "ConditionalBatchNorm2d",
    "ConditionalResidualBlock",
    "ControlLoss",
    "binned_target_sizes",
    "bootstrap_loss",
    "codec_control_loss",
    "dct_statistics",
    "encode_with_control",
    "fit_tables_to_size",
    "integer_tables",
    "pseudo_label_cross_entropy",
    "small_backbone",
    "standard_tables",
]
