"""RandomDiffJPEG: JPEG coding at per-sample random qualities, with an optionally learnable range."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from kornia_diffjpeg._checks import ValueChecks
from kornia_diffjpeg.augmentation.base import JPEGAugmentationBase
from kornia_diffjpeg.augmentation.params import (
    QUALITY_BOUNDS,
    QualityGenerator,
    bounded,
    parse_quality_range,
    unbounded,
)
from kornia_diffjpeg.codec.options import ModeName, Subsampling
from kornia_diffjpeg.codec.quality_gradient import QualityGradient, check_quality_gradient

__all__ = ["RandomDiffJPEG"]


class RandomDiffJPEG(JPEGAugmentationBase):
    r"""Code images with differentiable JPEG at qualities drawn uniformly from [lo, hi].

    Each sample's quality is ``q = lo + (hi - lo) * u`` with ``u ~ U(0, 1)`` drawn per sample (one
    for the batch with ``same_on_batch``). A single number ``q`` means exactly quality ``q``: unlike
    ``kornia.augmentation.RandomJPEG``, no range is built around it.

    Args:
        quality: ``(lo, hi)`` with ``0 <= lo <= hi <= 100``, or one number (qualities below 1 are coded as 1).
        qt_y: base luma table (8, 8) in [1, 255], natural row-major order, scaled by each sample's
            quality like libjpeg scales its Annex K tables (default: the Annex K table).
        qt_c: base chroma table, as ``qt_y``.
        mode: ``"surrogate"``, ``"ste"`` or ``"exact"``, see :func:`~kornia_diffjpeg.diff_jpeg`.
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"``.
        quality_gradient: ``"finite_difference"`` (the codec's own slope over ``q -+ 3``) or
            ``"surrogate"`` (the smooth face's), see :func:`~kornia_diffjpeg.diff_jpeg`.
        learnable: make the range (and the given base tables) ``nn.Parameter``\ s, trained through
            the reparameterized draw. Stored as logits: ``lo = 1 + 99 * sigmoid(low_logit)``,
            ``hi = lo + (100 - lo) * sigmoid(width_logit)`` (so ``1 <= lo <= hi <= 100`` always
            holds) and ``table = 1 + 254 * sigmoid(qt_*_logit)``; initial values on a bound start
            1e-6 of the interval inside it.
        p: probability of coding each sample; the others are returned unchanged and not coded.
        same_on_batch: draw one quality (and one gate) for the whole batch.
        keepdim: return a (C, H, W) input as (C, H, W) rather than (1, C, H, W).

    Parameters of a call (``aug._params``): ``quality_u`` (B,), the draws; ``quality`` (B,), the
    qualities they gave (detached, for logging); ``batch_prob`` (the gate) and
    ``forward_input_shape``. Coding uses ``quality_u`` with the module's current range, so
    ``aug(x, params=aug._params)`` reproduces the last output exactly.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> aug = RandomDiffJPEG(quality=(20.0, 80.0), p=1.0, learnable=True)
        >>> images = torch.rand(4, 3, 32, 32)
        >>> out = aug(images)
        >>> out.mean().backward()
        >>> aug._params["quality"].shape, aug.low_logit.grad is not None, aug.width_logit.grad is not None
        (torch.Size([4]), True, True)
        >>> bool(torch.equal(out, aug(images, params=aug._params)))  # replay
        True
    """

    def __init__(
        self,
        quality: float | tuple[float, float] | Tensor,
        *,
        qt_y: Tensor | None = None,
        qt_c: Tensor | None = None,
        mode: ModeName = "surrogate",
        subsampling: Subsampling = "4:2:0",
        learnable: bool = False,
        p: float = 0.5,
        same_on_batch: bool = False,
        keepdim: bool = False,
        quality_gradient: QualityGradient = "finite_difference",
    ) -> None:
        super().__init__(qt_y, qt_c, mode, subsampling, learnable, p, same_on_batch, keepdim)
        self.flags["quality_gradient"] = check_quality_gradient(quality_gradient)
        low, high = parse_quality_range(quality)
        if learnable:
            self.low_logit = nn.Parameter(unbounded(low, *QUALITY_BOUNDS))
            width = (high - low) / (QUALITY_BOUNDS[1] - low) if low < QUALITY_BOUNDS[1] else 0.0
            self.width_logit = nn.Parameter(unbounded(width, 0.0, 1.0))
        else:
            self.register_parameter("low_logit", None)
            self.register_parameter("width_logit", None)
        self.fixed_range = None if learnable else (low, high)
        self._param_generator = QualityGenerator()

    @property
    def quality_range(self) -> tuple[Tensor, Tensor]:
        """The current ``(lo, hi)`` as 0-d tensors (differentiable when learnable)."""
        if self.low_logit is None:
            return tuple(torch.tensor(bound, dtype=torch.float64) for bound in self.fixed_range)
        low = bounded(self.low_logit, *QUALITY_BOUNDS)
        return low, bounded(self.width_logit, low, QUALITY_BOUNDS[1])

    def qualities(self, quality_u: Tensor) -> Tensor:
        """The qualities ``lo + (hi - lo) * u`` of draws ``u`` with the current range.

        ``torch.lerp`` rounds so that they never leave [lo, hi] (the codec rejects a quality above 100).
        """
        low, high = (bound.to(quality_u) for bound in self.quality_range)
        return torch.lerp(low, high, quality_u)

    def generate_parameters(self, batch_shape: tuple[int, ...]) -> dict[str, Tensor]:
        params = super().generate_parameters(batch_shape)
        params["quality"] = self.qualities(params["quality_u"]).detach()
        return params

    def check_params(
        self, params: dict[str, Any], batch: int, device: torch.device, checks: ValueChecks, complete: bool = True
    ) -> None:
        if complete and "quality_u" not in params:
            raise ValueError(
                "params must hold 'quality_u', the draws of a RandomDiffJPEG call (aug._params), "
                f"got keys {sorted(params)}"
            )
        super().check_params(params, batch, device, checks, complete)

    def sample_qualities(self, params: dict[str, Tensor], batch: int, device: torch.device) -> Tensor:
        draws = params["quality_u"].to(device)
        return self.qualities(draws if draws.shape == (batch,) else draws.reshape(1).expand(batch))  # one for all

    def _quality_repr(self) -> str:
        low, high = (round(float(bound.detach()), 4) for bound in self.quality_range)
        return f"quality=({low}, {high})"
