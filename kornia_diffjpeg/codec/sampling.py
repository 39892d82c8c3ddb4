"""Edge replication and chroma resampling (``jcsample.c``, ``jcprepct.c``, ``jdsample.c``).

All functions work on planes (B, C, H, W) and take the mode (:mod:`codec.modes`) for the integer
shifts, so the same code is the smooth, straight-through and exact face.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg._autograd import FusedFunction
from kornia_diffjpeg.codec.constants import cached
from kornia_diffjpeg.codec.modes import Mode
from kornia_diffjpeg.codec.options import Subsampling
from kornia_diffjpeg.codec.tracing import is_traced

__all__ = [
    "SUBSAMPLING_FACTORS",
    "ceil_div",
    "downsample_chroma",
    "pad_to_multiple",
    "replicate_edges",
    "upsample_chroma",
    "upsample_chroma_smooth",
]

#: Horizontal and vertical chroma subsampling factors of each layout.
SUBSAMPLING_FACTORS: dict[str, tuple[int, int]] = {"4:4:4": (1, 1), "4:2:2": (2, 1), "4:2:0": (2, 2)}


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def replicate_edges(plane: Tensor, height: int, width: int) -> Tensor:
    """Extend the bottom and right edges to (height, width) by repeating the last row and column.

    A concatenation with the expanded edge: one copy per padded side, for any dtype, and its backward
    keeps no input (replication padding keeps its input, only for its shape).
    """
    pad_h, pad_w = height - plane.shape[-2], width - plane.shape[-1]
    if pad_h > 0:
        edge = plane[..., -1:, :]
        plane = torch.cat((plane, edge.expand(*edge.shape[:-2], pad_h, edge.shape[-1])), dim=-2)
    if pad_w > 0:
        edge = plane[..., -1:]
        plane = torch.cat((plane, edge.expand(*edge.shape[:-1], pad_w)), dim=-1)
    return plane


def pad_to_multiple(plane: Tensor, row_multiple: int, col_multiple: int) -> Tensor:
    """Replicate edges up to the next multiple of the given row and column counts."""
    height, width = plane.shape[-2:]
    return replicate_edges(
        plane, ceil_div(height, row_multiple) * row_multiple, ceil_div(width, col_multiple) * col_multiple
    )


def _alternating_bias(width: int, even: float, odd: float, like: Tensor) -> Tensor:
    """``(even, odd, even, odd, ...)`` of length ``2 * width``, cached per dtype and device."""
    build = lambda: torch.tensor([even, odd], dtype=torch.float64).repeat(width)  # noqa: E731
    return cached(("alternating", width, even, odd), like.dtype, like.device, build)


def downsample_chroma(chroma: Tensor, subsampling: Subsampling, ops: Mode) -> Tensor:
    """Downsample full-resolution chroma planes and pad them to whole 8x8 blocks.

    libjpeg extends the full-resolution plane to whole MCUs (16 columns, and an even row count for
    4:2:0) before averaging, with a bias that alternates along each output row, and replicates the
    downsampled plane's bottom rows up to the block multiple afterwards.
    """
    factor_w, factor_h = SUBSAMPLING_FACTORS[subsampling]
    if factor_w == 1:
        return pad_to_multiple(chroma, 8, 8)
    chroma = pad_to_multiple(chroma, factor_h, 16)
    width = chroma.shape[-1]
    bits = 2 if factor_h == 2 else 1  # h2v2: (a + b + c + d + {1, 2}) >> 2; h2v1: (a + b + {0, 1}) >> 1
    bias = (1, 2) if factor_h == 2 else (0, 1)
    if chroma.is_floating_point():  # the mean, then the bias and centering as one row: three steps
        offset = ops.floor_offset(bits)
        scale = 1.0 / float(1 << bits)
        row = _alternating_bias(width // 4, bias[0] * scale + offset, bias[1] * scale + offset, chroma)
        mean = _BoxMean.apply(chroma, factor_h, row, scale)  # scale: 1 / (samples per box)
        return pad_to_multiple(ops.floor_scaled(mean), 8, 8)
    total = chroma[..., 0::factor_h, 0::2] + chroma[..., 0::factor_h, 1::2]
    if factor_h == 2:
        total = total + chroma[..., 1::2, 0::2] + chroma[..., 1::2, 1::2]
    return pad_to_multiple(ops.shift_right(total + _alternating_bias(width // 4, *bias, total), bits), 8, 8)


class _BoxMean(FusedFunction):
    """``row + scale * box sums`` of ``rows`` x 2 boxes of planes (B, C, H, W) (H a multiple of ``rows``, W
    even); the gradient is spread back and scaled by one multiplication of an expanded view, nothing saved
    (strided slices or pooling cost more on the CPU)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor, rows: int, row: Tensor, scale: float) -> Tensor:
        *lead, height, width = x.shape
        # The boxes' columns, then their rows, as views: the four terms in three ops.
        if rows == 1:
            left, right = x.reshape(*lead, height, width // 2, 2).unbind(-1)
            return torch.add(row, left + right, alpha=scale)
        left, right = x.reshape(*lead, height // 2, 2, width // 2, 2).unbind(-1)
        top_left, bottom_left = left.unbind(-2)
        top_right, bottom_right = right.unbind(-2)
        total = (top_left + top_right).add_(bottom_left).add_(bottom_right)
        return torch.add(row, total, alpha=scale)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001
        ctx.rows, ctx.scale = inputs[1], inputs[3]

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001, ANN205
        rows = ctx.rows
        *lead, height, width = grad.shape
        spread = grad.reshape(*lead, height, 1, width, 1).expand(*lead, height, rows, width, 2)
        return torch.mul(spread, ctx.scale).view(*lead, height * rows, width * 2), None, None, None


def _neighbours(x: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """The previous and next sample along ``dim`` (-1 or -2) with the edge sample repeated."""
    size = x.shape[dim]
    padded = torch.cat((x.narrow(dim, 0, 1), x, x.narrow(dim, size - 1, 1)), dim=dim)  # one copy, two views
    return padded.narrow(dim, 0, size), padded.narrow(dim, 2, size)


def _interleave(first: Tensor, second: Tensor, dim: int) -> Tensor:
    """Interleave two equally shaped tensors along ``dim`` (first, second, first, ...)."""
    stacked = torch.stack((first, second), dim=dim + 1 if dim >= 0 else dim)
    shape = list(first.shape)
    shape[dim] *= 2
    return stacked.reshape(shape)


def _fancy_rows(x: Tensor) -> Tensor:
    """Vertical half of h2v2 fancy upsampling: column sums ``3 * near + far`` (scale 4)."""
    above, below = _neighbours(x, -2)
    return _interleave(3 * x + above, 3 * x + below, -2)


def _fancy_columns(x: Tensor, rounding: tuple[int, int], bits: int, ops: Mode) -> Tensor:
    """Horizontal triangle filter: ``(3 * cur + left + r0) >> bits``, ``(3 * cur + right + r1) >> bits``."""
    left, right = _neighbours(x, -1)
    near = 3 * x
    even = ops.shift_right(near + left, bits, rounding[0])
    odd = ops.shift_right(near + right, bits, rounding[1])
    return _interleave(even, odd, -1)


def upsample_chroma(chroma: Tensor, subsampling: Subsampling, ops: Mode) -> Tensor:
    """Upsample decoded chroma planes, cropped to their downsampled size, by libjpeg's filter.

    Fancy (triangle) upsampling is used when the downsampled width exceeds 2 pixels; narrower
    planes are replicated, as libjpeg-turbo falls back to plain replication for them.
    """
    factor_w, factor_h = SUBSAMPLING_FACTORS[subsampling]
    if factor_w == 1:
        return chroma
    if chroma.shape[-1] <= 2:
        up = chroma.repeat_interleave(2, dim=-1)
        return up.repeat_interleave(2, dim=-2) if factor_h == 2 else up
    if factor_h == 2:
        return _fancy_columns(_fancy_rows(chroma), (8, 7), 4, ops)
    return _fancy_columns(chroma, (1, 2), 2, ops)


def _triangle(x: Tensor, dim: int) -> Tensor:
    """Along ``dim`` (-1 or -2): ``3 x[i] + x[i - 1]`` and ``3 x[i] + x[i + 1]`` interleaved, edges repeated."""
    size = x.shape[dim]
    if torch.compiler.is_compiling():
        # Inductor (torch 2.13) fails on a replication pad fused after the IDCT's block transpose.
        previous, following = _neighbours(x, dim)
    else:  # the edges repeated by one replication pad (one op); its two shifted views are the neighbours
        padded = torch.nn.functional.pad(x, (1, 1, 0, 0) if dim == -1 else (0, 0, 1, 1), mode="replicate")
        previous, following = padded.narrow(dim, 0, size), padded.narrow(dim, 2, size)
    if is_traced(x):
        return _interleave(torch.add(previous, x, alpha=3), torch.add(following, x, alpha=3), dim)
    # The sums are written straight into the output's even and odd rows or columns: stacking them costs
    # one more pass over the output (4x slower on a last dim of two, on the CPU).
    shape = list(x.shape)
    shape[dim] *= 2
    out = x.new_empty(shape)
    even, odd = (out[..., 0::2], out[..., 1::2]) if dim == -1 else (out[..., 0::2, :], out[..., 1::2, :])
    torch.add(previous, x, alpha=3, out=even)
    torch.add(following, x, alpha=3, out=odd)
    return out


def _triangle_adjoint(grad: Tensor, dim: int) -> Tensor:
    """The transpose of :func:`_triangle`: (..., 2n) along ``dim`` back to (..., n)."""
    size = grad.shape[dim] // 2
    # x[i] feeds even[i] and odd[i] (weight 3), and odd[i - 1] and even[i + 1], the grad's entries 2i - 1 and
    # 2i + 2; at the edges even[0] and odd[n - 1] instead, which the grad replicated by one at each end holds.
    even, odd = grad.unflatten(dim, (size, 2)).unbind(dim)  # a sum over the pair dim is ~7x slower on the CPU
    padded = torch.nn.functional.pad(grad, (1, 1, 0, 0) if dim == -1 else (0, 0, 1, 1), mode="replicate")
    if dim == -1:
        from_previous, from_next = padded[..., 0 : 2 * size : 2], padded[..., 3::2]
    else:
        from_previous, from_next = padded[..., 0 : 2 * size : 2, :], padded[..., 3::2, :]
    return torch.add(from_next + from_previous, even + odd, alpha=3)


class _FancyFilter(FusedFunction):
    """``row + scale * filtered``: fancy upsampling's triangle filters along the given dims, then its bias
    row; the backward is the filters' transpose, scaled on the small plane (no zero-filled slice gradients,
    nothing saved)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor, dims: tuple[int, ...], row: Tensor, scale: float) -> Tensor:
        for dim in dims:
            x = _triangle(x, dim)
        if is_traced(x):  # no out=
            return torch.add(row, x, alpha=scale)
        # In place (x is the filter's fresh output): one pass, no new buffer.
        return torch.add(row, x, alpha=scale, out=x)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # noqa: ANN001
        ctx.dims, ctx.scale = inputs[1], inputs[3]

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001, ANN205
        for dim in reversed(ctx.dims):
            grad = _triangle_adjoint(grad, dim)
        return grad * ctx.scale if grad.requires_grad else grad.mul_(ctx.scale), None, None, None


def upsample_chroma_smooth(chroma: Tensor, subsampling: Subsampling, ops: Mode, shift: float = 0.0) -> Tensor:
    """:func:`upsample_chroma` for float planes in fewer steps: the linear filter as one function with a
    hand-written transpose, then its bias, centering and shift as one row added, then one flooring.

    ``shift``, an integer, is added to the output: folded into the bias row when the planes are filtered
    (before the flooring, which an integer shift commutes with), a separate step otherwise.
    """
    factor_w, factor_h = SUBSAMPLING_FACTORS[subsampling]
    if factor_w == 1 or chroma.shape[-1] <= 2 or chroma.shape[-2] < 2:
        upsampled = upsample_chroma(chroma, subsampling, ops)
        return upsampled if shift == 0.0 else upsampled + shift
    bits, bias = (4, (8, 7)) if factor_h == 2 else (2, (1, 2))
    offset, scale = ops.floor_offset(bits) + shift, 1.0 / float(1 << bits)
    row = _alternating_bias(chroma.shape[-1], bias[0] * scale + offset, bias[1] * scale + offset, chroma)
    return ops.floor_scaled(_FancyFilter.apply(chroma, (-2, -1) if factor_h == 2 else (-1,), row, scale))
