"""Lists of images of different sizes, as ``torchvision.io.encode_jpeg`` takes them, coded by size.

The file writers code a batch of one size at a time; a list is split into batches of equal shape
and dtype (each a stack of its images), with each image's quality and tables, and the results are
put back in the list's order.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
from torch import Tensor

from kornia_diffjpeg._checks import as_table, check_image, check_quality, check_table

__all__ = ["SizeGroup", "by_size", "size_groups"]

Result = TypeVar("Result")


@dataclass
class SizeGroup:
    """Images of a list that share their shape and dtype, stacked, with their settings.

    Attributes:
        indices: their places in the list.
        images: (n, C, H, W) the images.
        quality, qt_y, qt_c: their settings, as the batch functions take them (shared or per image).
    """

    indices: list[int]
    images: Tensor
    quality: Any
    qt_y: Any
    qt_c: Any


def size_groups(images: Sequence[Any], quality: Any, qt_y: Any, qt_c: Any) -> list[SizeGroup]:
    """Split a list of (C, H, W) images on one device into batches of one shape and dtype.

    ``quality`` is a number, a 0-d tensor or one per image (N,); ``qt_y`` and ``qt_c`` are (8, 8) or one
    per image (N, 8, 8); their values are checked by the batch functions.
    """
    for i, image in enumerate(images):
        if not isinstance(image, Tensor):
            raise TypeError(f"image[{i}] must be a tensor (C, H, W), got {type(image).__name__}")
        if image.ndim != 3:
            raise ValueError(f"image[{i}] must have shape (C, H, W) in a list of images, got {tuple(image.shape)}")
    devices = sorted({str(image.device) for image in images})
    if len(devices) > 1:
        raise ValueError(f"the images of a list must be on one device, got {', '.join(devices)}")
    count = len(images)
    device = images[0].device if images else torch.device("cpu")
    # Tables as nested lists or arrays are tensors here, so that one per image is split like a tensor.
    qt_y, qt_c = (None if t is None else as_table(name, t, device) for name, t in (("qt_y", qt_y), ("qt_c", qt_c)))
    per_image = {
        "quality": _per_image("quality", quality, count, 1),
        "qt_y": _per_image("qt_y", qt_y, count, 3),
        "qt_c": _per_image("qt_c", qt_c, count, 3),
    }
    places: dict[tuple[tuple[int, ...], torch.dtype], list[int]] = {}
    for i, image in enumerate(images):
        places.setdefault((tuple(image.shape), image.dtype), []).append(i)
    groups = []
    for indices in places.values():
        settings = {
            name: value[torch.tensor(indices, device=value.device)] if each else value
            for name, (value, each) in per_image.items()
        }
        groups.append(SizeGroup(indices, torch.stack([images[i] for i in indices]), **settings))
    return groups


def _per_image(name: str, value: Any, count: int, ndim: int) -> tuple[Any, bool]:
    """``value`` and whether it holds one setting per image (a tensor of ``ndim`` dims, first ``count``)."""
    if not isinstance(value, Tensor) or (value.ndim < ndim and (ndim == 1 or value.shape == (8, 8))):
        return value, False
    if value.ndim != ndim or value.shape[0] != count:
        shared = "a number" if ndim == 1 else "(8, 8)"
        raise ValueError(
            f"{name} must be {shared} or one per image of the list, ({count}{', 8, 8' if ndim == 3 else ''}), "
            f"got shape {tuple(value.shape)}"
        )
    return value, True


def by_size(
    code: Callable[..., Result], images: Sequence[Any], quality: Any, qt_y: Any, qt_c: Any, *settings: Any
) -> list[tuple[list[int], Result]]:
    """``code(batch, quality, qt_y, qt_c, *settings)`` of each batch of one size (see :func:`size_groups`),
    with the batch's places in the list.

    An empty list has its settings checked as an empty batch's are; an image's fault found in a batch is
    reported with the image's place in the list (``image[i]``) and its own shape.
    """
    groups = size_groups(images, quality, qt_y, qt_c)
    if not groups:  # no image, but the settings are checked all the same
        tensors = [v for v in (quality, qt_y, qt_c) if isinstance(v, Tensor)]
        empty = torch.zeros(0, 3, 8, 8, dtype=torch.uint8, device=tensors[0].device if tensors else None)
        code(empty, quality, qt_y, qt_c, *settings)
        return []
    results = []
    for group in groups:
        try:
            results.append((group.indices, code(group.images, group.quality, group.qt_y, group.qt_c, *settings)))
        except (TypeError, ValueError) as error:
            _name_the_image(images, group, error)
            _check_whole_settings(len(images), group.images.device, error, quality, qt_y, qt_c)
            raise
    return results


def _check_whole_settings(count: int, device: torch.device, error: Exception, quality: Any, *tables: Any) -> None:
    """If a batch's ``error`` is a per-image setting's fault, raise the error of the whole list's setting, so
    that the message gives the range of every image's values, not of one batch's."""
    try:
        check_quality(quality, count, device)
        for name, table in zip(("qt_y", "qt_c"), tables, strict=True):
            check_table(name, table, count, device)
    except (TypeError, ValueError) as whole:
        raise whole from error


def _name_the_image(images: Sequence[Tensor], group: SizeGroup, error: Exception) -> None:
    """If the batch's ``error`` is its images' fault, raise the error of the first faulty image checked alone,
    named by its place in the list (failing calls only pay these checks)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the batch has warned already
        try:
            check_image(group.images, allow_uint8=True)
        except (TypeError, ValueError):
            for i in group.indices:
                try:
                    check_image(images[i], name=f"image[{i}]", allow_uint8=True)
                except (TypeError, ValueError) as named:
                    raise named from error
