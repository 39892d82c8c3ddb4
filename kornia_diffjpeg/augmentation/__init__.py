"""Kornia augmentations that code images with differentiable JPEG: DiffJPEG and RandomDiffJPEG."""

from kornia_diffjpeg.augmentation.diff_jpeg import DiffJPEG
from kornia_diffjpeg.augmentation.random_diff_jpeg import RandomDiffJPEG

__all__ = ["DiffJPEG", "RandomDiffJPEG"]
