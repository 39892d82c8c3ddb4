"""The smooth codec's forward in steps of a few whole images, on the CPU, when it records no gradient.

Every stage of the codec is a pass over the batch, and on the CPU a pass over a batch larger than the
caches reads and writes main memory: the surrogate forward of 16x3x224x224 images waited on memory
more than it computed. Coded a few images at a time, each step's temporaries stay in the caches from
the first stage to the last (measured in ``docs/speed.md``: about 2x faster with 1 thread).

Images are coded independently, so the steps give one call's values, up to how the matrix products
round: a product over fewer images may take another kernel and round a sum differently by an ulp,
as coding the same images in batches of other sizes does (in 3 of 120 random shapes, one value moved
by 1.2e-7). Only forwards that record no gradient take steps: with a graph, the saved tensors and the
backward span the whole batch anyway, and steps measured slower there. The exact mode codes in steps
of its own (:data:`~kornia_diffjpeg.codec.exact.CHUNK_SAMPLES`); other devices, where each step costs
kernel launches, and traced calls (``torch.compile``, ``torch.func``) run the batch in one call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from kornia_diffjpeg.codec.tracing import is_traced

__all__ = ["STEP_SAMPLES", "forward_in_steps", "runs_in_steps"]

#: Samples (pixels x channels) coded per step: a few 224x224 RGB images, whose temporaries (a few
#: float32 copies of the step) fit the caches of a server core.
STEP_SAMPLES = 1 << 19


def _samples_per_image(image: Tensor) -> int:
    return image.shape[-3] * image.shape[-2] * image.shape[-1]


def _step_images(image: Tensor) -> int:
    return max(1, STEP_SAMPLES // max(_samples_per_image(image), 1))


def _records_gradient(values: tuple[Any, ...]) -> bool:
    tensors = [v for value in values for v in (value if isinstance(value, tuple) else (value,))]
    return torch.is_grad_enabled() and any(isinstance(t, Tensor) and t.requires_grad for t in tensors)


def runs_in_steps(image: Any, *settings: Any) -> bool:
    """Whether a forward of ``image`` with ``settings`` (qualities, tables, color) runs in steps: float
    images on the CPU, more than a step of them, no gradient recorded, not traced."""
    if not isinstance(image, Tensor) or image.ndim < 4 or not image.is_floating_point():
        return False
    if image.device.type != "cpu" or image.numel() == 0 or is_traced(image):
        return False
    images = image.numel() // _samples_per_image(image)
    return images > _step_images(image) and not _records_gradient((image, *settings))


def forward_in_steps(
    codec: Callable[..., Tensor], images: Tensor, quality: Tensor | None, qt_y: Tensor | None, qt_c: Tensor | None
) -> Tensor:
    """``codec(images, quality, qt_y=qt_y, qt_c=qt_c)`` of (N, C, H, W) images and per-sample settings ((N,)
    qualities, (N, 8, 8) tables, or None) in steps of whole images, written into one output."""
    out = images.new_empty(images.shape)  # contiguous, as one call returns it
    step = _step_images(images)
    for start in range(0, images.shape[0], step):
        part = slice(start, start + step)

        def sliced(setting: Tensor | None, part: slice = part) -> Tensor | None:
            return None if setting is None else setting[part]

        out[part] = codec(images[part], sliced(quality), qt_y=sliced(qt_y), qt_c=sliced(qt_c))
    return out
