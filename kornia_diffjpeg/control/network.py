"""The control network: image features and DCT statistics, conditioned on the target file size."""

from __future__ import annotations

import math
from numbers import Real

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kornia_diffjpeg._checks import ValueChecks, check_image, check_int, check_number
from kornia_diffjpeg.codec.color import jfif_color, rgb_to_ycbcr
from kornia_diffjpeg.codec.dct import block_dct, blockify

__all__ = ["CodecControl", "ConditionalBatchNorm2d", "ConditionalResidualBlock", "dct_statistics", "small_backbone"]

#: Smallest image side the default backbone takes (its stem is a 4x4 stride-4 convolution).
_MIN_SIDE = 4
#: Output range of the tables: baseline JPEG stores 8-bit entries, and 0 is not a valid step.
TABLE_MIN, TABLE_MAX = 1.0, 255.0
_FLOAT32_MAX = torch.finfo(torch.float32).max


def dct_statistics(image: Tensor) -> Tensor:
    """Per-frequency statistics of the 8x8 block DCT of each YCbCr channel, laid out as (B, 6, 8, 8).

    Channels 0..2 are ``log1p`` of the mean absolute coefficient over blocks (Y, Cb, Cr) and channels
    3..5 the log standard deviation over blocks, both on JPEG's 0..255 scale at full resolution. The
    8x8 layout puts each statistic at the position of the table entry it informs.

    Args:
        image: RGB images in [0, 1], (B, 3, H, W); sides that are not multiples of 8 are edge-padded.

    Example:
        >>> dct_statistics(torch.rand(2, 3, 20, 24)).shape
        torch.Size([2, 6, 8, 8])
    """
    if not isinstance(image, Tensor) or not image.is_floating_point():  # form only: the values are the caller's
        got = image.dtype if isinstance(image, Tensor) else type(image).__name__
        raise TypeError(f"image must be a floating-point tensor of RGB images (B, 3, H, W), got {got}")
    if image.ndim != 4 or image.shape[1] != 3 or 0 in image.shape[-2:]:
        raise ValueError(f"image must be RGB images (B, 3, H, W) with H, W >= 1, got shape {tuple(image.shape)}")
    dtype = image.dtype
    image = image.to(torch.promote_types(dtype, torch.float32))  # a photo's DC variance (~1e6) overflows float16
    matrix, offset = jfif_color(image.dtype, image.device)
    ycbcr = rgb_to_ycbcr(image * 255.0, matrix, offset) - 128.0
    pad_h, pad_w = -image.shape[-2] % 8, -image.shape[-1] % 8
    if pad_h or pad_w:
        ycbcr = F.pad(ycbcr, (0, pad_w, 0, pad_h), mode="replicate")
    coefficients = block_dct(blockify(ycbcr)).flatten(2, 3)  # (B, 3, blocks, 64)
    mean_abs = coefficients.abs().mean(2).log1p()
    log_std = coefficients.var(2, unbiased=False).add(1e-2).log().mul(0.5)
    return torch.cat([mean_abs, log_std], 1).unflatten(-1, (8, 8)).to(dtype)


def small_backbone(width: int = 32) -> nn.Sequential:
    """The default backbone: a 4x4 stride-4 patch stem and two stride-2 convolutions (1/16 of the input side).

    The patch stem keeps it cheap; the fine detail the tables act on reaches the head through
    :func:`dct_statistics` instead.
    """
    width = check_int("width", width, 1, 1 << 16)
    layers: list[nn.Module] = [nn.Conv2d(3, width, 4, 4, bias=False), nn.BatchNorm2d(width), nn.SiLU()]
    for channels, out in ((width, 2 * width), (2 * width, 2 * width)):
        layers += [nn.Conv2d(channels, out, 3, 2, 1, bias=False), nn.BatchNorm2d(out), nn.SiLU()]
    return nn.Sequential(*layers)


class ConditionalBatchNorm2d(nn.Module):
    """Batch normalization whose scale and shift are predicted from a scalar condition (B,).

    The affine parameters start at the identity (scale 1, shift 0) for every condition.
    """

    def __init__(self, channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        last = nn.Linear(hidden, 2 * channels)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.affine = nn.Sequential(nn.Linear(1, hidden), nn.SiLU(), last)

    def forward(self, features: Tensor, condition: Tensor) -> Tensor:
        scale, shift = self.affine(condition.unsqueeze(-1)).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return self.norm(features) * (1.0 + scale) + shift


class ConditionalResidualBlock(nn.Module):
    """conv-BN-act-conv-CBN(condition), added to the input, then act."""

    def __init__(self, channels: int, hidden: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = ConditionalBatchNorm2d(channels, hidden)

    def forward(self, features: Tensor, condition: Tensor) -> Tensor:
        out = F.silu(self.norm1(self.conv1(features)))
        return F.silu(features + self.norm2(self.conv2(out), condition))


def _feature_channels(backbone: nn.Module) -> int:
    """Channels of the backbone's feature map, from one small forward pass that leaves no trace."""
    training = backbone.training
    backbone.eval()
    try:
        parameter = next(backbone.parameters(), None)
        probe = torch.zeros(1, 3, 64, 64, device=None if parameter is None else parameter.device)
        with torch.no_grad():
            features = backbone(probe)
    except (RuntimeError, TypeError, ValueError) as error:  # e.g. a first layer that takes another channel count
        raise ValueError(
            f"backbone must map (B, 3, H, W) images to a feature map; a (1, 3, 64, 64) probe failed: {error}"
        ) from error
    finally:
        backbone.train(training)
    if not isinstance(features, Tensor) or features.ndim != 4:
        raise ValueError(f"backbone must return a (B, C, h, w) feature map, got {type(features).__name__}")
    return features.shape[1]


class CodecControl(nn.Module):
    r"""Predicts JPEG quantization tables for an image and a target file size.

    The backbone's feature map is pooled to 8x8 and concatenated with :func:`dct_statistics` of the
    image, two frequency-coordinate planes and a constant plane of the condition (the target size as
    ``log10`` bytes normalized over ``size_range``); a head of conditional residual blocks, whose
    conditional batch normalization reads the same condition, maps them to two 8x8 tables through
    ``1 + 254 * sigmoid``.

    Args:
        backbone: any module mapping (B, 3, H, W) images in [0, 1] to a (B, C, h, w) feature map
            (e.g. a pretrained network's feature extractor); ``None`` builds :func:`small_backbone`.
        size_range: (low, high) target sizes in bytes that training covers; it only centres and scales
            the condition, targets outside it are still accepted.
        width: channels of the head.
        blocks: number of conditional residual blocks.

    Example:
        >>> control = CodecControl(size_range=(1000.0, 10000.0))
        >>> qt_y, qt_c = control(torch.rand(2, 3, 64, 64), torch.tensor([2000.0, 8000.0]))
        >>> qt_y.shape, bool(qt_y.min() >= 1), bool(qt_c.max() <= 255)
        (torch.Size([2, 8, 8]), True, True)
    """

    size_range: Tensor
    frequency: Tensor

    def __init__(
        self,
        backbone: nn.Module | None = None,
        size_range: tuple[float, float] = (1000.0, 20000.0),
        width: int = 64,
        blocks: int = 3,
    ) -> None:
        super().__init__()
        if not isinstance(size_range, (tuple, list)) or len(size_range) != 2:
            raise TypeError(f"size_range must be a (low, high) pair of sizes in bytes, got {size_range!r}")
        low, high = (check_number("size_range", v, 0.0) for v in size_range)
        log_low, log_high = torch.tensor([low, high]).log10().tolist()  # as the float32 buffer gives the condition
        if not (0 < low < high and -math.inf < log_low < log_high < math.inf):
            raise ValueError(
                f"size_range must be (low, high) bytes with 0 < low < high, apart and within float32's range, "
                f"got {size_range}"
            )
        width = check_int("width", width, 1, 1 << 16)
        blocks = check_int("blocks", blocks, 1, 1024)
        if backbone is not None and not isinstance(backbone, nn.Module):
            raise TypeError(f"backbone must be an nn.Module or None, got {type(backbone).__name__}")
        #: Smallest image side the backbone takes (the default's stem is a 4x4 stride-4 convolution).
        self.min_side = _MIN_SIDE if backbone is None else 1
        self.backbone = small_backbone() if backbone is None else backbone
        self.register_buffer("size_range", torch.tensor([low, high]))
        grid = torch.linspace(-1.0, 1.0, 8)
        self.register_buffer("frequency", torch.stack(torch.meshgrid(grid, grid, indexing="ij")).unsqueeze(0))
        self.stem = nn.Conv2d(_feature_channels(self.backbone) + 6 + 2 + 1, width, 1)
        self.blocks = nn.ModuleList(ConditionalResidualBlock(width) for _ in range(blocks))
        self.out = nn.Conv2d(width, 2, 1)

    def condition(self, target_bytes: Tensor) -> Tensor:
        """log10 of the target sizes mapped affinely so that ``size_range`` becomes [-1, 1]."""
        low, high = self.size_range.log10().unbind()
        return (2.0 * target_bytes.log10() - (low + high)) / (high - low)

    def check_in_dtype(self, target_bytes: Tensor, checks: ValueChecks) -> None:
        """Add to ``checks`` that the (checked) targets and ``size_range`` stay positive and finite in the network's
        dtype: 70000 bytes overflow a ``.half()`` control, 1e300 in float64 a float32 one (NaN tables otherwise), and
        a narrow ``size_range`` such as (1000, 1010) has no log10 width left in bfloat16."""
        dtype = self.stem.weight.dtype
        if target_bytes.dtype != dtype:
            checks.positive(f"target_bytes (in the control's dtype, {dtype})", target_bytes.to(dtype))
        checks.positive("size_range (in the control's dtype)", self.size_range)
        # The condition divides by the log10 width, which rounds to 0 for a narrow range in bfloat16 or float16.
        low, high = self.size_range.log10().unbind()
        checks.positive(f"size_range (log10 high - log10 low, in {self.size_range.dtype})", (high - low).reshape(1))

    def forward(self, image: Tensor, target_bytes: Tensor) -> tuple[Tensor, Tensor]:
        """Tables (qt_y, qt_c), each (B, 8, 8) in [1, 255], for images (B, 3, H, W) and targets (B,) in bytes.

        Images of any floating dtype are converted to the network's (its parameters'), the dtype of the tables.
        """
        checks = ValueChecks()  # the image's and the targets' values, read once before they reach batch norm
        image = check_image(image, checks)
        if image.shape[1] != 3:
            raise ValueError(f"image must be RGB (B, 3, H, W), got shape {tuple(image.shape)}")
        if min(image.shape[-2:]) < self.min_side:
            raise ValueError(
                f"image must be at least {self.min_side}x{self.min_side} for the backbone, "
                f"got shape {tuple(image.shape)}"
            )
        if image.device != self.stem.weight.device:
            raise ValueError(f"image is on {image.device} but the control is on {self.stem.weight.device}")
        target_bytes = _check_targets(target_bytes, image, checks)
        self.check_in_dtype(target_bytes, checks)
        checks.run()
        dtype = self.stem.weight.dtype
        image, target_bytes = image.to(dtype), target_bytes.to(dtype)
        if image.shape[0] == 0:  # no image: no tables (batch norm takes no empty batch)
            return image.new_zeros(0, 8, 8), image.new_zeros(0, 8, 8)
        features = F.adaptive_avg_pool2d(self.backbone(image), 8)
        statistics = dct_statistics(image.to(features.dtype))
        frequency = self.frequency.to(features.dtype).expand(image.shape[0], -1, -1, -1)
        condition = self.condition(target_bytes.to(features.dtype))
        # The condition enters the stem too: the CBN alone learns the size-to-table mapping slowly.
        plane = condition.view(-1, 1, 1, 1).expand(-1, 1, 8, 8)
        out = self.stem(torch.cat([features, statistics, frequency, plane], 1))
        for block in self.blocks:
            out = block(out, condition)
        tables = TABLE_MIN + (TABLE_MAX - TABLE_MIN) * torch.sigmoid(self.out(out))
        return tables[:, 0], tables[:, 1]


def _check_targets(target_bytes: object, image: Tensor, checks: ValueChecks | None = None) -> Tensor:
    """Validate target sizes: a positive finite (B,) tensor (or a number, or a 0-d tensor) on the image's device.

    Their values are added to ``checks``, or checked now.
    """
    if isinstance(target_bytes, Real) and not isinstance(target_bytes, bool):
        number = check_number("target_bytes", target_bytes, 0.0, _FLOAT32_MAX)  # a float32 tensor holds it
        if number <= 0:
            raise ValueError(f"target_bytes must be positive and finite, got {target_bytes!r}")
        target_bytes = torch.full((image.shape[0],), number, device=image.device)
    if not isinstance(target_bytes, Tensor):
        raise TypeError(f"target_bytes must be a tensor of shape (B,) or a number, got {type(target_bytes).__name__}")
    if target_bytes.dtype == torch.bool or target_bytes.is_complex():
        raise TypeError(f"target_bytes must be a real-valued tensor of sizes in bytes, got dtype {target_bytes.dtype}")
    if not target_bytes.is_floating_point():
        target_bytes = target_bytes.float()
    if target_bytes.ndim == 0:  # one number, as a tensor
        target_bytes = target_bytes.expand(image.shape[0])
    if target_bytes.shape != (image.shape[0],):
        raise ValueError(f"target_bytes must have shape ({image.shape[0]},), got {tuple(target_bytes.shape)}")
    if target_bytes.device != image.device:
        raise ValueError(f"target_bytes is on {target_bytes.device} but image is on {image.device}")
    if checks is None:
        checks = ValueChecks()
        checks.positive("target_bytes", target_bytes)
        checks.run()
    else:
        checks.positive("target_bytes", target_bytes)
    return target_bytes
