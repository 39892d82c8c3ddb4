"""Real JPEG files with the control's tables (baseline, 8-bit tables), written by :func:`encode_jpeg`."""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg._checks import (
    ValueChecks,
    check_bool,
    check_choice,
    check_image,
    entry_point,
    validation_enabled,
)
from kornia_diffjpeg.codec.options import Subsampling
from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS
from kornia_diffjpeg.control.fit import fit_tables_to_size
from kornia_diffjpeg.control.network import CodecControl, _check_targets
from kornia_diffjpeg.control.tables import integer_tables_of_checked
from kornia_diffjpeg.io.encode import encode_jpeg

__all__ = ["encode_with_control"]


@torch.no_grad()
@entry_point  # the values are read once, here; the control and the fit skip their value checks
def encode_with_control(
    control: CodecControl,
    image: Tensor,
    target_bytes: Tensor | float,
    subsampling: Subsampling = "4:2:0",
    fit_size: bool = False,
) -> list[bytes]:
    """Encode each image to a baseline JPEG file with the tables ``control`` predicts for its target size.

    The control runs in eval mode (its mode is restored afterwards); the tables are rounded by
    :func:`~kornia_diffjpeg.control.integer_tables` and the files written by :func:`~kornia_diffjpeg.encode_jpeg` on the
    images' device, byte for byte what Pillow (libjpeg-turbo) writes with ``qtables=``, so any JPEG
    decoder reads them.
    The network's size condition is learned, so its files miss the target by a few percent; with
    ``fit_size=True`` each image's predicted tables are scaled by the one factor that makes its file
    the largest that fits the target (:func:`fit_tables_to_size`, sized exactly without an encoder),
    the rule a binary search over quality applies to standard tables.

    Args:
        control: a (trained) :class:`CodecControl`.
        image: RGB images in [0, 1], (B, 3, H, W) or (3, H, W); quantized to 8 bits for the encoder.
        target_bytes: target file sizes in bytes, (B,) or one number for all.
        subsampling: chroma layout, ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"``.
        fit_size: scale the predicted tables to fit each target exactly (see above).

    Returns:
        One JPEG file (bytes) per image.

    Example:
        >>> files = encode_with_control(CodecControl(), torch.rand(2, 3, 32, 32), 2000.0)
        >>> len(files), files[0][:2]
        (2, b'\\xff\\xd8')
    """
    if not isinstance(control, CodecControl):
        raise TypeError(f"control must be a CodecControl, got {type(control).__name__}")
    checks = ValueChecks()
    batched = check_image(image, checks)
    if batched.shape[1] != 3:
        raise ValueError(f"image must be RGB (B, 3, H, W), got shape {tuple(image.shape)}")
    target_bytes = _check_targets(target_bytes, batched, checks)
    control.check_in_dtype(target_bytes, checks)  # the control's own value checks are skipped (read here)
    check_choice("subsampling", subsampling, SUBSAMPLING_FACTORS)
    check_bool("fit_size", fit_size)
    checks.run()
    if batched.shape[0] == 0:
        return []
    training = control.training
    control.eval()
    try:
        qt_y, qt_c = control(batched, target_bytes)
    finally:
        control.train(training)
    if batched.is_meta:  # the control runs there (its device checked), but a file is made of values
        raise ValueError("image is on the meta device: a file is made of its values, give a tensor with data")
    if validation_enabled() and not bool(torch.isfinite(torch.stack((qt_y, qt_c))).all()):
        raise ValueError("control predicted non-finite tables: its parameters hold NaN or inf")
    if fit_size:
        # Size the 8-bit image the file will hold (rounded as encode_jpeg rounds).
        image_8bit = torch.floor(batched.double().clamp(0.0, 1.0) * 255.0 + 0.5).div(255.0).to(batched.dtype)
        qt_y, qt_c = fit_tables_to_size(image_8bit, qt_y, qt_c, target_bytes, subsampling)
    qt_y, qt_c = integer_tables_of_checked(qt_y).to(batched.dtype), integer_tables_of_checked(qt_c).to(batched.dtype)
    return encode_jpeg(batched, qt_y=qt_y, qt_c=qt_c, subsampling=subsampling, writer="pillow")
