"""What DiffJPEG and RandomDiffJPEG share: the codec settings, the tables and the gated coding."""

from __future__ import annotations

from typing import Any

import torch
from kornia.augmentation import IntensityAugmentationBase2D
from torch import Tensor, nn

from kornia_diffjpeg._checks import IMAGE_DTYPES, ValueChecks, check_bool, check_choice, check_image, entry_point
from kornia_diffjpeg.augmentation.params import (
    TABLE_BOUNDS,
    bounded,
    check_probability,
    parse_table,
    unbounded,
)
from kornia_diffjpeg.codec import MODES, diff_jpeg
from kornia_diffjpeg.codec.options import ModeName, Subsampling
from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS

__all__ = ["JPEGAugmentationBase"]


#: Draws and gates a call reads from its parameters: a replay's, or Kornia's keyword overrides of them.
_READ_PARAMS = ("batch_prob", "quality_u")
#: The codec's arguments a call could be thought to take (Kornia stores unknown keywords unread; its containers
#: pass their own, such as ``data_keys``, so only these are refused).
_CODEC_SETTINGS = ("quality", "qt_y", "qt_c", "color", "rounding")
#: Dtypes a gate ``batch_prob`` may have (Kornia's own are float, or bool when it fills a missing one).
_GATE_DTYPES = (torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, *IMAGE_DTYPES)


def _check_readable(name: str, value: Tensor, device: torch.device, fix: str = "replay parameters with data") -> None:
    """A parameter (or setting) on the meta device has no values to code an input that has some."""
    if value.is_meta and device.type != "meta":
        raise ValueError(f"{name} is on the meta device but the input is on {device}: {fix}")


class JPEGAugmentationBase(IntensityAugmentationBase2D):
    """A Kornia intensity augmentation that codes the selected samples with :func:`diff_jpeg`.

    Subclasses give each sample's quality (:meth:`sample_qualities`) and the parameters to log.
    Masks, boxes and keypoints pass through unchanged (JPEG moves no pixel).
    """

    qt_y_logit: Tensor | None
    qt_c_logit: Tensor | None
    qt_y_fixed: Tensor | None
    qt_c_fixed: Tensor | None

    def __init__(
        self,
        qt_y: Any,
        qt_c: Any,
        mode: ModeName,
        subsampling: Subsampling,
        learnable: bool,
        p: float,
        same_on_batch: bool,
        keepdim: bool,
    ) -> None:
        check_choice("mode", mode, MODES)
        check_choice("subsampling", subsampling, SUBSAMPLING_FACTORS)
        super().__init__(
            p=check_probability(p),
            same_on_batch=check_bool("same_on_batch", same_on_batch),
            keepdim=check_bool("keepdim", keepdim),
        )
        self.learnable = check_bool("learnable", learnable)
        self.flags = {"mode": mode, "subsampling": subsampling}
        for name, table in (("qt_y", parse_table("qt_y", qt_y)), ("qt_c", parse_table("qt_c", qt_c))):
            if learnable and table is not None:
                self.register_parameter(f"{name}_logit", nn.Parameter(unbounded(table, *TABLE_BOUNDS)))
                self.register_buffer(f"{name}_fixed", None)
            else:
                self.register_parameter(f"{name}_logit", None)
                self.register_buffer(f"{name}_fixed", table)

    @property
    def tables(self) -> tuple[Tensor | None, Tensor | None]:
        """The current (8, 8) luma and chroma tables (differentiable when learnable), or None."""
        qt_y = self.qt_y_fixed if self.qt_y_logit is None else bounded(self.qt_y_logit, *TABLE_BOUNDS)
        qt_c = self.qt_c_fixed if self.qt_c_logit is None else bounded(self.qt_c_logit, *TABLE_BOUNDS)
        return qt_y, qt_c

    @entry_point  # the input and the settings are checked here, before the random gate, once per call
    def forward(self, input: Tensor, params: dict[str, Tensor] | None = None, **kwargs: Any) -> Tensor:  # noqa: A002
        """Code the selected samples of ``input`` ((B, C, H, W), (C, H, W) or (H, W); C = 1 or 3).

        The input is validated whatever the random gate selects: a bad input fails on every call.
        """
        checks = ValueChecks()
        if isinstance(input, Tensor) and input.ndim not in (2, 3, 4):
            raise ValueError(f"input image must have shape (B, C, H, W), (C, H, W) or (H, W), got {tuple(input.shape)}")
        image = input.unsqueeze(0) if isinstance(input, Tensor) and input.ndim == 2 else input
        batched = check_image(image, checks, name="input image")
        # A module moved with .to("meta") (or built under torch.device("meta")) has no settings to code with.
        move = "move the module with .to(input.device)"
        if torch.device(self.device).type == "meta" and batched.device.type != "meta":  # its random draws
            raise ValueError(
                f"{type(self).__name__} is on the meta device but the input is on {batched.device}: {move}"
            )
        for name, setting in (*self.named_parameters(recurse=False), *self.named_buffers(recurse=False)):
            _check_readable(name, setting, batched.device, move)
        for name, parameter in self.named_parameters(recurse=False):
            checks.finite(name, parameter)  # a diverged optimizer step leaves NaN settings
        # Kornia writes keyword arguments over the parameters (``aug(x, quality_u=u)``): check them like a replay's.
        overrides = {key: kwargs[key] for key in _READ_PARAMS if key in kwargs}
        unread = sorted(key for key in kwargs if key in _CODEC_SETTINGS)
        if unread:  # Kornia would store them unread: aug(x, quality=30) was coded at the module's quality
            raise TypeError(
                f"{type(self).__name__} does not read the keyword arguments {unread}: they are settings of the module; "
                f"keywords override its flags {sorted(self.flags)} or its draws {list(_READ_PARAMS)}"
            )
        if params is not None:  # a replay: the stored draws must be draws, one per sample of this input
            if not isinstance(params, dict):
                raise TypeError(f"params must be a dict of tensors (e.g. aug._params), got {type(params).__name__}")
            self.check_params({**params, **overrides}, batched.shape[0], batched.device, checks)
        elif overrides:  # over a fresh draw: only the overrides to check
            self.check_params(overrides, batched.shape[0], batched.device, checks, complete=False)
        checks.run()
        return super().forward(input, params, **kwargs)

    def check_params(
        self, params: dict[str, Any], batch: int, device: torch.device, checks: ValueChecks, complete: bool = True
    ) -> None:
        """Check the parameters of a replay (``params=``) against an input of ``batch`` samples on ``device``.

        The gate ``batch_prob`` (read when ``p < 1``) must hold one value per sample, bool or in [0, 1]; draws
        ``quality_u``, where given, must be floating-point values in [0, 1], one per sample or one for all.
        ``complete`` is False for keyword overrides of a fresh draw (the rest is drawn).
        """
        gate = params.get("batch_prob")
        if gate is not None and not (self.p == 1.0 and self.p_batch == 1.0):
            if not isinstance(gate, Tensor):
                raise TypeError(f"params['batch_prob'] must be a tensor of gates, got {type(gate).__name__}")
            if gate.dtype not in _GATE_DTYPES or gate.layout != torch.strided:
                raise TypeError(
                    "params['batch_prob'] must be a dense bool, integer or floating-point tensor of gates, "
                    f"got dtype {gate.dtype}, layout {gate.layout}"
                )
            if gate.shape != (batch,):
                raise ValueError(
                    f"params['batch_prob'] must have shape ({batch},), a gate per input sample, got {tuple(gate.shape)}"
                )
            _check_readable("params['batch_prob']", gate, device)
            if gate.dtype != torch.bool:  # a NaN gate would silently skip its sample (NaN > 0.5 is False)
                checks.within("params['batch_prob']", gate, 0.0, 1.0)
        draws = params.get("quality_u")
        if draws is None:
            return
        if not isinstance(draws, Tensor) or not draws.is_floating_point():
            got = f"dtype {draws.dtype}" if isinstance(draws, Tensor) else type(draws).__name__
            raise TypeError(f"params['quality_u'] must be a floating-point tensor of draws in [0, 1], got {got}")
        if draws.ndim > 1 or draws.numel() not in (1, batch):
            raise ValueError(
                f"params['quality_u'] must have shape ({batch},), a draw per input sample, got {tuple(draws.shape)}"
            )
        _check_readable("params['quality_u']", draws, device)
        checks.within("params['quality_u']", draws, 0.0, 1.0)

    def sample_qualities(self, params: dict[str, Tensor], batch: int, device: torch.device) -> Tensor | None:
        """The (B,) qualities of the samples, differentiable w.r.t. learnable settings (None: tables as given)."""
        raise NotImplementedError

    def _code(self, image: Tensor, quality: Tensor | None, flags: dict[str, Any]) -> Tensor:
        qt_y, qt_c = self.tables
        return diff_jpeg(
            image,
            quality,
            qt_y=qt_y,
            qt_c=qt_c,
            mode=flags["mode"],
            subsampling=flags["subsampling"],
            quality_gradient=flags.get("quality_gradient", "finite_difference"),
        )

    def apply_transform(
        self, input: Tensor, params: dict[str, Tensor], flags: dict[str, Any], transform: Tensor | None = None
    ) -> Tensor:
        quality = self.sample_qualities(params, input.shape[0], input.device)
        if self.p == 1.0 and self.p_batch == 1.0:  # every sample is coded (static, so no gather and no host sync)
            return self._code(input, quality, flags)
        if params["batch_prob"].is_meta:  # no values to select with: code all (meta results are only shapes)
            return self._code(input, quality, flags)
        # Code only the samples the gate selects; Kornia's base returns the others' input values.
        index = torch.nonzero(params["batch_prob"] > 0.5).view(-1).to(input.device)
        if index.numel() == 0:
            return input
        if index.numel() == input.shape[0]:
            return self._code(input, quality, flags)
        selected = None if quality is None else quality.index_select(0, index)
        return input.index_copy(0, index, self._code(input.index_select(0, index), selected, flags))

    #: whether the constructor takes ``same_on_batch`` (shown in the repr).
    _draws_per_sample = True

    def _quality_repr(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        given = any(table is not None for table in self.tables)
        tables = f", tables={'learnable' if self.learnable else 'given'}" if given else ""
        return (
            f"{type(self).__name__}({self._quality_repr()}{tables}, mode={self.flags['mode']!r}, "
            f"subsampling={self.flags['subsampling']!r}, learnable={self.learnable}, p={self.p}, "
            f"{f'same_on_batch={self.same_on_batch}, ' if self._draws_per_sample else ''}keepdim={self.keepdim})"
        )
