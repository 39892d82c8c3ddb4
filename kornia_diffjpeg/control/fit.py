"""Fit predicted tables to a byte budget exactly: bisect a per-image scale with the exact size counter."""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg._checks import (
    TABLE_RANGE,
    ValueChecks,
    check_choice,
    check_image,
    check_int,
    check_real_tensor,
    entry_point,
)
from kornia_diffjpeg.codec.options import Subsampling
from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS
from kornia_diffjpeg.control.network import _check_targets
from kornia_diffjpeg.control.tables import integer_tables_of_checked
from kornia_diffjpeg.filesize.exact import jpeg_file_size

__all__ = ["fit_tables_to_size"]

#: Scales searched, as log2: 2**-8 takes every entry of a table in [1, 255] to 1, 2**8 to 255.
_LOG2_SCALE_RANGE = (-8.0, 8.0)


@torch.no_grad()
@entry_point  # the values are read once, here; the sizing calls skip their value checks
def fit_tables_to_size(
    image: Tensor,
    qt_y: Tensor,
    qt_c: Tensor,
    target_bytes: Tensor | float,
    subsampling: Subsampling = "4:2:0",
    steps: int = 14,
) -> tuple[Tensor, Tensor]:
    """Scale each image's tables by one factor so its baseline file is the largest that fits the target.

    The same rule as a binary search over quality, applied to the shape of the given tables: per
    image, a bisection on ``log2(scale)`` keeps the smallest scale of ``(qt_y, qt_c)`` (rounded by
    :func:`~kornia_diffjpeg.control.integer_tables`) whose file fits ``target_bytes``. Sizes come from
    :func:`~kornia_diffjpeg.jpeg_file_size`, which equals the length of the file Pillow and OpenCV
    write, so no encoder runs; each step codes the batch once. When even all-255 tables do not fit,
    those are returned (the smallest file these tables can give).

    Args:
        image: RGB images in [0, 1], (B, 3, H, W).
        qt_y: luma tables (B, 8, 8) in [1, 255], e.g. a :class:`CodecControl`'s prediction.
        qt_c: chroma tables (B, 8, 8) in [1, 255].
        target_bytes: target file sizes in bytes, (B,), or one number for the whole batch.
        subsampling: chroma layout of the file, ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"``.
        steps: bisection steps; 14 resolves the scale to 0.1%, finer than the 8-bit rounding.

    Returns:
        Integer tables ``(qt_y, qt_c)``, each (B, 8, 8) int64 in [1, 255].
    """
    steps = check_int("steps", steps, 1, 64)  # 64 halvings exhaust float64
    checks = ValueChecks()
    image = check_image(image, checks)
    target_bytes = _check_targets(target_bytes, image, checks)
    check_choice("subsampling", subsampling, SUBSAMPLING_FACTORS)
    for name, table in (("qt_y", qt_y), ("qt_c", qt_c)):
        check_real_tensor(name, table)  # not bool, complex or float8
        if table.shape != (image.shape[0], 8, 8):
            raise ValueError(f"{name} must have shape ({image.shape[0]}, 8, 8), got {tuple(table.shape)}")
        if table.device != image.device:
            raise ValueError(f"{name} is on {table.device} but image is on {image.device}")
        checks.within(name, table, *TABLE_RANGE, what=" values")
    checks.run()
    if image.shape[0] == 0:
        empty = torch.zeros(0, 8, 8, dtype=torch.int64, device=image.device)
        return empty, empty.clone()
    qt_y, qt_c = qt_y.detach().to(image.dtype), qt_c.detach().to(image.dtype)

    def tables_at(log2_scale: Tensor) -> tuple[Tensor, Tensor]:
        scale = torch.exp2(log2_scale).view(-1, 1, 1)
        return integer_tables_of_checked(qt_y * scale), integer_tables_of_checked(qt_c * scale)

    def fits(log2_scale: Tensor) -> Tensor:
        luma, chroma = tables_at(log2_scale)
        sizes = jpeg_file_size(image, qt_y=luma.to(image.dtype), qt_c=chroma.to(image.dtype), subsampling=subsampling)
        # In float64, where both are exact: a float16 or bfloat16 target would round 1540 bytes to 1536.
        return sizes.double() <= target_bytes.double()

    # Invariant: ``high`` fits (or is the coarsest scale), ``low`` does not (or is the finest scale).
    low = torch.full_like(target_bytes, _LOG2_SCALE_RANGE[0], dtype=image.dtype)
    high = torch.full_like(low, _LOG2_SCALE_RANGE[1])
    finest_fits = fits(low)
    high = torch.where(finest_fits, low, high)
    for _ in range(steps):
        middle = 0.5 * (low + high)
        ok = fits(middle)
        high = torch.where(ok & ~finest_fits, middle, high)
        low = torch.where(ok | finest_fits, low, middle)
    return tables_at(high)
