"""A learned JPEG file-size model: quantized DCT blocks as tokens, cross-covariance attention, a class token.

The method of Reich's codec-control thesis (XCiT-style blocks, class-attention read-out, softplus
output), kept small enough to train on a CPU. Usable where no exact count exists (other encoders,
optimized Huffman tables) or as a learned stand-in with gradients w.r.t. the coefficients.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kornia_diffjpeg._checks import ValueChecks, check_coefficients, check_int, check_number, check_real_tensor
from kornia_diffjpeg.codec.pipeline import JPEGCoefficients
from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS
from kornia_diffjpeg.filesize.exact import header_size
from kornia_diffjpeg.filesize.huffman import ZIGZAG

__all__ = [
    "RATE_PRIOR",
    "ClassAttentionBlock",
    "JPEGFileSizeRegressor",
    "XCABlock",
    "block_features",
    "file_size_loss",
]


def _check_heads(dim: int, heads: int, mlp_ratio: int) -> None:
    """Widths of an attention block: ``dim`` split evenly into ``heads``."""
    dim, heads = check_int("dim", dim, 1, 1 << 16), check_int("heads", heads, 1, 1 << 16)
    check_int("mlp_ratio", mlp_ratio, 1, 1 << 10)
    if dim % heads:
        raise ValueError(f"dim must be a multiple of heads ({heads}), got {dim}")


class _FeedForward(nn.Sequential):
    def __init__(self, dim: int, ratio: int) -> None:
        super().__init__(nn.Linear(dim, dim * ratio), nn.GELU(), nn.Linear(dim * ratio, dim))


class XCABlock(nn.Module):
    """Pre-norm block of cross-covariance attention and a feed-forward network (XCiT).

    Attention runs across the ``dim // heads`` channels of each head rather than across tokens: the
    (channels x channels) map costs linear time and memory in the token count.

    Example:
        >>> XCABlock(32, heads=4)(torch.rand(2, 100, 32)).shape
        torch.Size([2, 100, 32])
    """

    def __init__(self, dim: int, heads: int = 4, mlp_ratio: int = 2) -> None:
        super().__init__()
        _check_heads(dim, heads, mlp_ratio)
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.project = nn.Linear(dim, dim)
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.mlp = _FeedForward(dim, mlp_ratio)

    def _attention(self, tokens: Tensor) -> Tensor:
        batch, count, dim = tokens.shape
        # (3, B, heads, channels, N): each head's channels as rows
        q, k, v = self.qkv(tokens).reshape(batch, count, 3, self.heads, dim // self.heads).permute(2, 0, 3, 4, 1)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        attention = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        mixed = (attention @ v).permute(0, 3, 1, 2).reshape(batch, count, dim)
        return self.project(mixed)

    def forward(self, tokens: Tensor) -> Tensor:
        tokens = tokens + self._attention(self.norm1(tokens))
        return tokens + self.mlp(self.norm2(tokens))


class ClassAttentionBlock(nn.Module):
    """A class token attends to itself and all tokens (CaiT); the tokens are left unchanged.

    Example:
        >>> ClassAttentionBlock(32)(torch.rand(2, 1, 32), torch.rand(2, 100, 32)).shape
        torch.Size([2, 1, 32])
    """

    def __init__(self, dim: int, heads: int = 4, mlp_ratio: int = 2) -> None:
        super().__init__()
        _check_heads(dim, heads, mlp_ratio)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = _FeedForward(dim, mlp_ratio)

    def forward(self, cls: Tensor, tokens: Tensor) -> Tensor:
        context = self.norm1(torch.cat((cls, tokens), dim=1))
        cls = cls + self.attention(context[:, :1], context, context, need_weights=False)[0]
        return cls + self.mlp(self.norm2(cls))


def _sinusoidal(positions: Tensor, dim: int) -> Tensor:
    """Sinusoidal encodings (N, dim) of positions (N,) in block units."""
    frequencies = torch.exp(torch.arange(0, dim, 2, device=positions.device) * (-math.log(1000.0) / dim))
    angles = positions[:, None].float() * frequencies
    return torch.cat((angles.sin(), angles.cos()), dim=-1)


#: The largest size (and coefficient range, halved) a float16 regressor holds.
_FLOAT16_MAX = torch.finfo(torch.float16).max

#: Zigzag index (1..63) of each AC coefficient in natural order, for the end-of-block position.
_AC_ZIGZAG_INDEX = torch.tensor([ZIGZAG.index(i) for i in range(1, 64)], dtype=torch.float32)

#: Bytes per block of each :func:`block_features` channel and a constant:
#: ``fit_rate_prior(load(TRAIN_PHOTOS))`` (``examples/filesize_training.py``, least squares of
#: the relative error against the exact size) on the training crops of
#: ``examples/train_filesize_regressor.py``, rounded; never fitted on its held-out photos. The example
#: prints its held-out MARE on its own; the network learns a factor on top of it.
RATE_PRIOR = (-0.002, 0.267, 0.174, 0.125, 0.695)


def block_features(blocks: Tensor) -> Tensor:
    """Hand-crafted rate features (..., rows * cols, 4) of quantized blocks (..., rows, cols, 64).

    Per block (coefficients in natural order): the (soft) number of non-zero AC coefficients, their
    magnitude bits ``sum log2(1 + |y|)``, the bits ``log2(1 + |d|)`` of the DC difference to the
    previous block in row order (JPEG codes DC differentially, which no single token sees) and the
    zigzag position of the last non-zero AC coefficient (where the end-of-block code cuts the zero
    runs). Differentiable almost everywhere.

    Example:
        >>> block_features(torch.zeros(2, 3, 4, 64)).shape
        torch.Size([2, 12, 4])
    """
    check_real_tensor("blocks", blocks)
    if blocks.ndim < 3 or blocks.shape[-1] != 64:
        raise ValueError(f"blocks must have shape (..., rows, cols, 64), got {tuple(blocks.shape)}")
    values = blocks.flatten(-3, -2)
    ac = values[..., 1:].abs()
    # The polynomial rounding surrogate keeps zeros below 0.125 and non-zeros above 0.875.
    nonzero = ((ac - 0.125) / 0.75).clamp(0.0, 1.0)
    dc = values[..., 0]
    dc_difference = dc - torch.cat((torch.zeros_like(dc[..., :1]), dc[..., :-1]), dim=-1)
    last = (nonzero * _AC_ZIGZAG_INDEX.to(ac)).amax(dim=-1)
    return torch.stack(
        (nonzero.sum(-1), torch.log2(1.0 + ac).sum(-1), torch.log2(1.0 + dc_difference.abs()), last), dim=-1
    )


def _refuse_float16_overflow(largest: list[float]) -> None:
    if largest[0] == math.inf:
        raise ValueError(
            f"coefficients make a file larger than a float16 regressor can give ({_FLOAT16_MAX:g} bytes); "
            "run it in float32 or bfloat16"
        )


class JPEGFileSizeRegressor(nn.Module):
    """Regress the JPEG file size in bytes from (differentiably) quantized coefficients.

    Each 8x8 block of each component is a token: its 64 coefficients (signed ``log1p`` of the
    magnitude), its :func:`block_features` (scaled to about [0, 1]), its component's table (``log`` of
    the steps), sinusoidal encodings of its block row and column (chroma positions scaled to luma
    units) and a component embedding, linearly embedded. XCA blocks mix the tokens, class-attention
    blocks read them into a regression token, and a linear head with softplus gives the mean
    entropy-coded bytes per block as a factor on a linear rate prior (trainable, initialized to
    :data:`RATE_PRIOR`) of the mean block features; the size is that times the number of blocks plus
    the header. The factor starts at 1, so training learns a correction in log space, where the
    loss is, rather than a scale spanning three decades.

    Args:
        dim: embedding width.
        depth: number of XCA blocks.
        class_depth: number of class-attention blocks.
        heads: attention heads.

    Example:
        >>> from kornia_diffjpeg import jpeg_encode
        >>> model = JPEGFileSizeRegressor(dim=32, depth=1)
        >>> model(jpeg_encode(torch.rand(2, 3, 32, 32), 75.0)).shape
        torch.Size([2])
    """

    def __init__(self, dim: int = 64, depth: int = 2, class_depth: int = 1, heads: int = 4) -> None:
        super().__init__()
        dim, heads = (
            check_int("dim", dim, 4, 1 << 16),
            check_int("heads", heads, 1, dim),
        )
        depth = check_int("depth", depth, 0, 1024)
        class_depth = check_int("class_depth", class_depth, 0, 1024)
        if dim % heads or dim % 4:
            raise ValueError(f"dim must be a multiple of 4 and of heads ({heads}), got {dim}")
        self.dim = dim
        self.embed = nn.Linear(132 + dim, dim)
        self.component = nn.Embedding(3, dim)
        self.blocks = nn.ModuleList(XCABlock(dim, heads) for _ in range(depth))
        self.class_blocks = nn.ModuleList(ClassAttentionBlock(dim, heads) for _ in range(class_depth))
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 1)
        self.rate = nn.Parameter(torch.tensor(RATE_PRIOR))
        nn.init.zeros_(self.head.weight)
        nn.init.constant_(self.head.bias, math.log(math.e - 1.0))  # softplus = 1: the prior alone

    def _tokens(
        self, blocks: Tensor, table: Tensor, component: Tensor, scale: tuple[int, int]
    ) -> tuple[Tensor, Tensor]:
        """Tokens (B, rows * cols, dim) and block features (B, rows * cols, 4) of one component's blocks."""
        batch, rows, cols, _ = blocks.shape
        values = blocks.reshape(batch, rows * cols, 64)
        features = block_features(blocks)
        values = torch.sign(values) * torch.log1p(values.abs())
        steps = torch.log(table.reshape(batch, 1, 64).clamp_min(1.0)).expand(batch, rows * cols, 64)
        row = _sinusoidal(torch.arange(rows, device=blocks.device) * scale[0], self.dim // 2)
        col = _sinusoidal(torch.arange(cols, device=blocks.device) * scale[1], self.dim // 2)
        position = torch.cat((row[:, None].expand(rows, cols, -1), col[None].expand(rows, cols, -1)), dim=-1)
        position = position.reshape(1, rows * cols, self.dim).expand(batch, -1, -1).to(values)
        scaled = features / features.new_tensor((63.0, 64.0, 12.0, 63.0))
        tokens = self.embed(torch.cat((values, steps, scaled, position), dim=-1)) + self.component(component)
        return tokens, features

    def forward(self, coefficients: JPEGCoefficients) -> Tensor:
        """Estimated sizes in bytes (B,) of the files these coefficients make."""
        checks = ValueChecks()  # the coefficients' values, and their range in the model's dtype: read once
        check_coefficients(coefficients, checks)
        c = coefficients
        dtype, device = self.head.weight.dtype, c.luma.device
        if device != self.head.weight.device:
            raise ValueError(f"coefficients are on {device} but the regressor is on {self.head.weight.device}")
        if c.luma.dtype != dtype:  # coefficients of any image dtype, in the model's dtype (e.g. after .half())
            c = JPEGCoefficients(
                c.luma.to(dtype),
                None if c.chroma is None else c.chroma.to(dtype),
                c.qt_y.to(dtype),
                None if c.qt_c is None else c.qt_c.to(dtype),
                c.subsampling,
                c.image_size,
                c.batch_shape,
                c.dtype,
            )
        if dtype == torch.float16:  # DC differences of blocks must stay finite: |y| at most half of 65504
            for name, blocks in (("luma", c.luma), ("chroma", c.chroma)):
                if blocks is not None:
                    checks.finite(f"coefficients.{name} (in the regressor's dtype, float16)", blocks, _FLOAT16_MAX / 2)
        checks.run()
        if c.luma.shape[0] == 0:  # no image: no size
            return c.luma.new_zeros(0)
        parts = [self._tokens(c.luma[:, 0], c.qt_y, torch.tensor(0, device=device), (1, 1))]
        if c.chroma is not None and c.qt_c is not None:
            # Chroma block (r, c) covers the pixels of luma block (r * factor_h, c * factor_w); the ratio
            # of the grids is not the factor when the luma grid has an odd count (e.g. 3 blocks over 2).
            factor_w, factor_h = SUBSAMPLING_FACTORS[c.subsampling]
            scale = (factor_h, factor_w)
            for index, plane in enumerate(c.chroma.unbind(1), start=1):
                parts.append(self._tokens(plane, c.qt_c, torch.tensor(index, device=device), scale))
        tokens = torch.cat([part[0] for part in parts], dim=1)
        features = torch.cat([part[1] for part in parts], dim=1).mean(dim=1)
        prior = (features @ self.rate[:4] + self.rate[4]).clamp_min(0.05)
        for block in self.blocks:
            tokens = block(tokens)
        cls = self.cls.expand(tokens.shape[0], -1, -1).to(tokens)
        for block in self.class_blocks:
            cls = block(cls, tokens)
        per_block = prior * F.softplus(self.head(self.norm(cls[:, 0]))).squeeze(-1)
        size = header_size(c.channels) + per_block * tokens.shape[1]
        if dtype == torch.float16:  # a 256x256 photo at quality 100 makes more bytes than it holds
            overflow = ValueChecks()
            overflow.add(size.detach().amax().reshape(1), _refuse_float16_overflow)
            overflow.run()
        return size


def file_size_loss(predicted: Tensor, target: Tensor, correlation_weight: float = 0.1) -> Tensor:
    """Mean absolute log-size error (a relative error) plus ``weight * (1 - Pearson correlation)`` of log sizes.

    Example:
        >>> round(float(file_size_loss(torch.tensor([110.0, 200.0]), torch.tensor([100.0, 200.0]))), 4)
        0.0477
    """
    checks = ValueChecks()
    for name, sizes in (("predicted", predicted), ("target", target)):
        if not isinstance(sizes, Tensor) or sizes.dtype == torch.bool or sizes.is_complex():
            got = sizes.dtype if isinstance(sizes, Tensor) else type(sizes).__name__
            raise TypeError(f"{name} must be a real tensor of sizes in bytes (B,), got {got}")
        if sizes.ndim != 1 or sizes.shape != predicted.shape or sizes.shape[0] == 0:
            raise ValueError(f"{name} must have the shape (B,) of predicted, B >= 1, got {tuple(sizes.shape)}")
        checks.positive(name, sizes)  # the loss compares log sizes
    if not predicted.is_floating_point():
        raise TypeError(f"predicted must be a floating-point tensor, got {predicted.dtype}")
    if target.device != predicted.device:
        raise ValueError(f"target is on {target.device} but predicted is on {predicted.device}")
    if target.dtype != predicted.dtype:  # compared in predicted's dtype: 1e300 in float64 is inf in float32
        checks.positive(f"target (in predicted's dtype, {predicted.dtype})", target.to(predicted.dtype))
    # Below the largest number of the loss's dtype (float32 for half sizes): overflowing, times 1 - 1 it is NaN.
    largest = torch.finfo(torch.promote_types(predicted.dtype, torch.float32)).max
    check_number("correlation_weight", correlation_weight, 0.0, largest)
    checks.run()
    log_predicted, log_target = predicted.log(), target.to(predicted).log()
    loss = (log_predicted - log_target).abs().mean()
    if predicted.numel() > 1:
        a, b = log_predicted - log_predicted.mean(), log_target - log_target.mean()
        correlation = (a * b).sum() / (a.norm() * b.norm()).clamp_min(1e-12)
        loss = loss + correlation_weight * (1.0 - correlation)
    return loss
