"""The smooth codec's forward in steps of a few whole images, on the CPU, when it records no gradient.

Every stage of the codec writes a fresh full-size buffer, and glibc's allocator (PyTorch's default on
Linux) hands large freed buffers back to the system, so every call pages its buffers in again: the
surrogate forward of 16x3x224x224 images spent most of its time in page faults. Coded a few images
at a time, the steps' buffers are small and reused from step to step: in loops of calls, 2.5x faster
with 1 thread and 2.1x with 2 (``docs/speed.md``). With an allocator that keeps freed memory
(jemalloc, tcmalloc, or glibc's ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_MMAP_THRESHOLD_``) one call
pages nothing in and is as fast or faster (the steps measured up to 12% slower with 1 thread, 25-54%
with 2): set :data:`STEP_SAMPLES` to ``None`` there.

Images are coded independently, so the steps give one call's values, up to how the matrix products
round: a product over fewer images may take another kernel and round a sum by an ulp, as coding the
same images in batches of other sizes does (in 3 of 120 random (shape, step) configurations, one value
moved by 1.2e-7). Only forwards that record no gradient take steps: with a graph, the saved tensors
and the backward span the whole batch anyway, and steps measured no faster there. The exact mode
codes in steps of its own (:data:`~kornia_diffjpeg.codec.exact.CHUNK_SAMPLES`); other devices, where
each step costs kernel launches, and traced calls (``torch.compile``, ``torch.func``) run the batch in
one call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from kornia_diffjpeg.codec.tracing import is_traced, records_gradient

__all__ = ["STEP_SAMPLES", "forward_in_steps", "runs_in_steps"]

#: Samples (pixels x channels) coded per step (three 224x224 RGB images; smaller steps measured faster
#: down to this); None codes every batch in one call.
STEP_SAMPLES: int | None = 1 << 19


def _samples_per_image(image: Tensor) -> int:
    return image.shape[-3] * image.shape[-2] * image.shape[-1]


def _step_images(image: Tensor) -> int:
    if STEP_SAMPLES is None:
        return image.numel()  # at least the batch: one call
    return max(1, STEP_SAMPLES // max(_samples_per_image(image), 1))


def runs_in_steps(image: Any, *settings: Any) -> bool:
    """Whether a forward of ``image`` with ``settings`` (qualities, tables, color) runs in steps: float
    images on the CPU, more than a step of them, no gradient recorded, not traced."""
    if not isinstance(image, Tensor) or image.ndim < 4 or not image.is_floating_point():
        return False
    if image.device.type != "cpu" or image.numel() == 0 or is_traced(image):
        return False
    images = image.numel() // _samples_per_image(image)
    return images > _step_images(image) and not records_gradient(image, *settings)


def forward_in_steps(
    codec: Callable[..., Tensor], images: Tensor, quality: Tensor | None, qt_y: Tensor | None, qt_c: Tensor | None
) -> Tensor:
    """``codec(images, quality, qt_y=qt_y, qt_c=qt_c)`` of (N, C, H, W) images and per-sample settings ((N,)
    qualities, (N, 8, 8) tables, or None) in steps of whole images, written into one output."""
    out = images.new_empty(images.shape)  # contiguous, as one call returns it
    step = _step_images(images)
    for start in range(0, images.shape[0], step):
        part = slice(start, start + step)
        quality_, qt_y_, qt_c_ = (None if setting is None else setting[part] for setting in (quality, qt_y, qt_c))
        out[part] = codec(images[part], quality_, qt_y=qt_y_, qt_c=qt_c_)
    return out
