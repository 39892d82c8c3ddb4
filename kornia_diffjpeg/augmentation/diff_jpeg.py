"""DiffJPEG: JPEG coding at a fixed (or learnable) quality, as a Kornia augmentation."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kornia_diffjpeg.augmentation.base import JPEGAugmentationBase
from kornia_diffjpeg.augmentation.params import QUALITY_BOUNDS, bounded, parse_quality, unbounded
from kornia_diffjpeg.codec.options import ModeName, Subsampling
from kornia_diffjpeg.codec.quality_gradient import QualityGradient, check_quality_gradient

__all__ = ["DiffJPEG"]


class DiffJPEG(JPEGAugmentationBase):
    r"""Code images with differentiable JPEG at one quality (or with given tables).

    Every selected sample goes through :func:`kornia_diffjpeg.diff_jpeg` with the same settings; a
    Kornia intensity augmentation, so it works in
    :class:`kornia.augmentation.AugmentationSequential` (masks, boxes and keypoints pass unchanged).

    Args:
        quality: JPEG quality in [0, 100] (below 1 coded as 1, as libjpeg does), or None to use
            ``qt_y`` / ``qt_c`` as given.
        qt_y: luma table (8, 8) in [1, 255], natural row-major order. With ``quality`` it is a base
            table scaled by the quality like libjpeg scales its Annex K tables; without, used as given.
        qt_c: chroma table, as ``qt_y`` (needed for RGB images when ``quality`` is None).
        mode: ``"surrogate"``, ``"ste"`` or ``"exact"``, see :func:`~kornia_diffjpeg.diff_jpeg`.
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"``.
        quality_gradient: ``"finite_difference"`` (the codec's own slope over ``q -+ 3``) or
            ``"surrogate"`` (the smooth face's), see :func:`~kornia_diffjpeg.diff_jpeg`.
        learnable: make the quality and the given tables ``nn.Parameter``\ s. They are stored as
            logits: ``quality = 1 + 99 * sigmoid(quality_logit)``, ``table = 1 + 254 * sigmoid(qt_*_logit)``,
            so they stay in [1, 100] and [1, 255] with a gradient everywhere (initial values on a
            bound start 1e-6 of the interval inside it).
        p: probability of coding each sample; the others are returned unchanged and not coded.
        keepdim: return a (C, H, W) input as (C, H, W) rather than (1, C, H, W).

    Parameters of a call (``aug._params``): ``quality`` (B,), the quality each sample is coded at
    (detached, for logging; absent when tables are used as given), ``batch_prob`` (the gate) and
    ``forward_input_shape``. Coding always uses the module's current quality and tables.

    Example:
        >>> aug = DiffJPEG(quality=30.0, learnable=True)
        >>> out = aug(torch.rand(2, 3, 32, 32))
        >>> out.mean().backward()
        >>> out.shape, aug.quality_logit.grad is not None, round(float(aug.quality.detach()), 3)
        (torch.Size([2, 3, 32, 32]), True, 30.0)
    """

    def __init__(
        self,
        quality: float | Tensor | None = 50.0,
        *,
        qt_y: Tensor | None = None,
        qt_c: Tensor | None = None,
        mode: ModeName = "surrogate",
        subsampling: Subsampling = "4:2:0",
        learnable: bool = False,
        p: float = 1.0,
        keepdim: bool = False,
        quality_gradient: QualityGradient = "finite_difference",
    ) -> None:
        super().__init__(qt_y, qt_c, mode, subsampling, learnable, p, same_on_batch=False, keepdim=keepdim)
        self.flags["quality_gradient"] = check_quality_gradient(quality_gradient)
        fixed = parse_quality(quality)
        if fixed is None and self.tables[0] is None:
            raise ValueError("give a quality, or qt_y (and qt_c for RGB images) to use as given; got neither")
        if learnable and fixed is not None:
            self.quality_logit = nn.Parameter(unbounded(fixed, *QUALITY_BOUNDS))
        else:
            self.register_parameter("quality_logit", None)
        self.fixed_quality = None if learnable else fixed

    @property
    def quality(self) -> Tensor | None:
        """The current quality, a 0-d tensor (differentiable when learnable), or None."""
        if self.quality_logit is not None:
            return bounded(self.quality_logit, *QUALITY_BOUNDS)
        return None if self.fixed_quality is None else torch.tensor(self.fixed_quality)

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        quality = self.quality
        return {} if quality is None else {"quality": quality.detach().expand(batch_shape[0])}

    def sample_qualities(self, params: dict[str, Tensor], batch: int, device: torch.device) -> Tensor | None:
        quality = self.quality
        return None if quality is None else quality.to(device).expand(batch)

    _draws_per_sample = False

    def _quality_repr(self) -> str:
        quality = self.quality
        return f"quality={None if quality is None else round(float(quality.detach()), 4)}"
