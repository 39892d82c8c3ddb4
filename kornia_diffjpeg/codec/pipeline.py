"""The JPEG encoder and decoder composed from the stages, and their modes.

image -> 0..255 -> YCbCr -> edge replication -> chroma downsampling -> 8x8 blocks -> DCT ->
quantization -> coefficients -> dequantization -> IDCT -> planes -> chroma upsampling -> RGB ->
clip -> [0, 1]
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, replace
from typing import Optional

import torch
from torch import Tensor, nn

from kornia_diffjpeg._checks import (
    ValueChecks,
    check_choice,
    check_coefficients,
    check_color,
    check_image,
    check_quality,
    check_rounding,
    check_table,
    entry_point,
)
from kornia_diffjpeg.codec.color import jfif_color_cached, rgb_to_ycbcr, scaled_color, ycbcr_to_rgb
from kornia_diffjpeg.codec.constants import cached
from kornia_diffjpeg.codec.dct import block_transform, block_transform_t
from kornia_diffjpeg.codec.exact import decode_exact, encode_exact
from kornia_diffjpeg.codec.modes import (
    STE,
    Mode,
    Surrogate,
)
from kornia_diffjpeg.codec.options import MODES, ModeName, Subsampling
from kornia_diffjpeg.codec.precision import without_autocast
from kornia_diffjpeg.codec.quality_gradient import QualityGradient, check_quality_gradient, secant_codec
from kornia_diffjpeg.codec.sampling import (
    SUBSAMPLING_FACTORS,
    ceil_div,
    downsample_chroma,
    pad_to_multiple,
    upsample_chroma_smooth,
)
from kornia_diffjpeg.codec.steps import forward_in_steps, runs_in_steps
from kornia_diffjpeg.codec.surrogates import (
    RoundingSurrogate,
    resolve_rounding,
    round_half_away,
    straight_through,
    straight_through_fresh,
)
from kornia_diffjpeg.codec.tables import annex_k_stacked, given_table, quality_scaled_table, standard_quality_tables
from kornia_diffjpeg.codec.tracing import records_gradient

__all__ = [
    "MODES",
    "DiffJPEGCodec",
    "JPEGCoefficients",
    "diff_jpeg",
    "encode_samples_exact",
    "jpeg_decode",
    "jpeg_encode",
]

Color = Optional[tuple[Tensor, Tensor]]  # noqa: UP045 (a runtime alias)


@dataclass
class JPEGCoefficients:
    """Quantized DCT coefficients and everything needed to decode them.

    Attributes:
        luma: (B, 1, rows, cols, 64) quantized luma blocks, coefficients in natural row-major order.
        chroma: (B, 2, rows, cols, 64) quantized Cb and Cr blocks, or None for grayscale.
        qt_y: (B, 8, 8) luma tables used.
        qt_c: (B, 8, 8) chroma tables used, or None for grayscale.
        subsampling: chroma layout, ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"``.
        image_size: (H, W) of the coded image.
        batch_shape: the leading dimensions of the coded images, restored by the decoder: ``(B,)``
            for (B, C, H, W), ``()`` for a single (C, H, W) image, ``(B, T)`` for (B, T, C, H, W)
            clips; None means ``(B,)`` of the blocks. The blocks hold them flattened.
        dtype: floating-point dtype of the image, restored by the decoder.
    """

    luma: Tensor
    chroma: Tensor | None
    qt_y: Tensor
    qt_c: Tensor | None
    subsampling: Subsampling
    image_size: tuple[int, int]
    batch_shape: tuple[int, ...] | None = None
    dtype: torch.dtype = torch.float32

    def __post_init__(self) -> None:
        if not isinstance(self.luma, Tensor):  # the rest is checked where they are decoded or sized
            raise TypeError(f"luma must be a tensor (B, 1, rows, cols, 64), got {type(self.luma).__name__}")
        if self.batch_shape is None:
            self.batch_shape = (self.luma.shape[0],)
        try:
            self.batch_shape = tuple(operator.index(n) for n in self.batch_shape)
        except TypeError as error:
            raise TypeError(f"batch_shape must be a tuple of ints, got {self.batch_shape!r}") from error

    @property
    def channels(self) -> int:
        return 1 if self.chroma is None else 3

    @property
    def chroma_size(self) -> tuple[int, int]:
        """(H, W) of the downsampled chroma planes before block padding."""
        factor_w, factor_h = SUBSAMPLING_FACTORS[self.subsampling]
        return ceil_div(self.image_size[0], factor_h), ceil_div(self.image_size[1], factor_w)


def _mode_ops(mode: ModeName, rounding: str | RoundingSurrogate) -> Mode:
    check_choice("mode", mode, MODES)
    surrogate = resolve_rounding(check_rounding(rounding))
    if mode == "ste":
        return STE(surrogate)
    return Surrogate(surrogate)  # "exact" takes its gradients from the smooth face


def _check_exact_color(mode: ModeName, color: Color) -> None:
    if mode == "exact" and color is not None:
        raise ValueError(
            "color cannot be used with mode='exact': the exact face is libjpeg's fixed-point JFIF conversion; "
            "learn color parameters with mode='surrogate' or 'ste'"
        )


def _exact_tables(
    quality: Tensor | None,
    qt_y: Tensor | None,
    qt_c: Tensor | None,
    channels: int,
    batch: int,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[Tensor, Tensor | None]:
    """libjpeg's integer tables, with qualities and base tables rounded to integers (halves up)."""
    # Rounded in float64: a float32 value just below a half must not round up (these are a few numbers).
    quality, qt_y, qt_c = (_round_half_up(t, dtype) for t in (quality, qt_y, qt_c))
    libjpeg_rules = STE(round_half_away)  # integer table formula forward
    return _resolve_tables(quality, qt_y, qt_c, channels, batch, libjpeg_rules, dtype, device)


def _exact_coded(
    samples: Tensor,
    quality: Tensor | None,
    qt_y: Tensor | None,
    qt_c: Tensor | None,
    subsampling: Subsampling,
    dtype: torch.dtype,
) -> _Coded:
    """The exact face of images (B, C, H, W), float or uint8: libjpeg's integer tables (as ``dtype``) and the
    coefficients libjpeg-turbo codes with them."""
    batch, channels = samples.shape[:2]
    qt_y_int, qt_c_int = _exact_tables(quality, qt_y, qt_c, channels, batch, dtype, samples.device)
    luma, chroma = encode_exact(samples, _as_int(qt_y_int), _as_int_or_none(qt_c_int), subsampling, dtype)
    return luma, chroma, qt_y_int, qt_c_int


def _round_half_up(value: Tensor | None, dtype: torch.dtype) -> Tensor | None:
    return None if value is None else torch.floor(value.detach().double() + 0.5).to(dtype)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


def _resolve_tables(
    quality: Tensor | None,
    qt_y: Tensor | None,
    qt_c: Tensor | None,
    channels: int,
    batch: int,
    ops: Mode,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[Tensor, Tensor | None]:
    """The (B, 8, 8) tables to quantize with, following libjpeg's rules for quality and tables."""
    if quality is None:
        if qt_y is None or (channels == 3 and qt_c is None):
            missing = "qt_y" if qt_y is None else "qt_c"
            raise ValueError(f"give a quality, or {missing} (tables are used as given without quality)")
        luma = given_table(qt_y.to(dtype), ops)
        chroma = given_table(qt_c.to(dtype), ops) if channels == 3 and qt_c is not None else None
        return luma, chroma
    quality = quality.to(dtype)
    if qt_y is None and (qt_c is None or channels == 1):  # the standard tables: both in one step
        luma, chroma = standard_quality_tables(quality, ops).unbind(1)
        return luma, chroma if channels == 3 else None
    base_y, base_c = annex_k_stacked(dtype, device).unbind(0)
    quality = quality.view(batch, 1, 1)
    luma = quality_scaled_table(base_y if qt_y is None else qt_y.to(dtype), quality, ops)
    chroma = quality_scaled_table(base_c if qt_c is None else qt_c.to(dtype), quality, ops) if channels == 3 else None
    return luma, chroma


def _level_shift_dc(dtype: torch.dtype, device: torch.device) -> Tensor:
    """(64,): the DCT of a block of 128s, ``-1024`` at DC: the encoder's level shift, folded into the DCT."""
    return cached("level_shift_dc", dtype, device, lambda: torch.eye(64, dtype=torch.float64)[0] * -1024.0)


def _blocks_per_sample(blocks: Tensor) -> int:
    return blocks.shape[1] * blocks.shape[2] * blocks.shape[3]


def _quantize(planes: Tensor, table: Tensor, ops: Mode) -> Tensor:
    """Blocks, DCT of the level-shifted samples, and quantization by the per-sample tables.

    The level shift is folded into the DCT's matrix product (a bias at DC).

    The coefficients' gradient is the rounding surrogate's (``ops`` is told each coefficient's step,
    which the default surrogate's gradient depends on); the tables' gradient takes the rounding's
    mean slope (1). With the surrogate's slope, whose mean over a step is 1/4 for the cubic, the
    dequantized value would seem to grow with the table as if the rounding did not follow it, and
    quality gradients flip sign where clipping hides half of the errors (dark or bright regions).
    With slope 1 the gradient of the squared error w.r.t. a table entry Q is ``2 Q d**2``, whose
    mean is the derivative of the uniform quantizer's error ``Q**2 / 12``.
    """
    batch, channels, height, width = planes.shape
    dtype, device = planes.dtype, planes.device
    # Divided after the product, not folded into it: exact ties (flat blocks) must stay ties.
    coefficients = torch.addmm(_level_shift_dc(dtype, device), _block_rows(planes), block_transform_t(dtype, device))
    per_sample = (batch, 1, 1, 1, 64)
    divisor = (table.detach() if table.requires_grad else table).reshape(per_sample)
    ratio = coefficients.view(batch, channels, height // 8, width // 8, 64) / divisor
    quantized = ops.quantize_round(ratio, divisor)
    if torch.is_grad_enabled() and table.requires_grad:  # d(coefficient / table) / d table, 0 forward
        quantized = quantized + ratio.detach() * (divisor / table.reshape(per_sample) - 1.0)
    return quantized


def _block_rows(planes: Tensor) -> Tensor:
    """(B, C, H, W) planes (H, W multiples of 8) as (B * C * H/8 * W/8, 64) row-major blocks, one copy."""
    batch, channels, height, width = planes.shape
    blocks = planes.reshape(batch, channels, height // 8, 8, width // 8, 8).transpose(3, 4)
    return blocks.reshape(-1, 64)


def _block_planes(rows: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Blocks (..., 64) of (B, C, rows, cols) blocks as (B, C, 8 rows, 8 cols) planes, one copy."""
    batch, channels, block_rows, block_cols = shape
    blocks = rows.reshape(batch, channels, block_rows, block_cols, 8, 8).transpose(3, 4)
    return blocks.reshape(batch, channels, block_rows * 8, block_cols * 8)


def _reconstruct(blocks: Tensor, table: Tensor, size: tuple[int, int], ops: Mode, divisor: float = 1.0) -> Tensor:
    """Dequantization, IDCT and level shift (one batched matrix product per plane), then sample rounding
    and range limit, cropped to ``size`` (and divided by ``divisor``)."""
    batch = blocks.shape[0]
    transform = table.reshape(batch, 64, 1) * block_transform(blocks.dtype, blocks.device)
    shift = cached("level_shift", blocks.dtype, blocks.device, lambda: torch.full((64,), 128.0, dtype=torch.float64))
    samples = torch.baddbmm(shift, blocks.reshape(batch, _blocks_per_sample(blocks), 64), transform)
    return ops.round_clip(_crop(_block_planes(samples, blocks.shape[:4]), size), 0.0, 255.0, divisor)


def _crop(planes: Tensor, size: tuple[int, int]) -> Tensor:
    """The top left (height, width) of planes; no step when they have that size (a slice's gradient costs a copy)."""
    if tuple(planes.shape[-2:]) == tuple(size):
        return planes
    return planes[..., : size[0], : size[1]]


def _encode(
    image: Tensor,
    qt_y: Tensor,
    qt_c: Tensor | None,
    subsampling: Subsampling,
    ops: Mode,
    color: tuple[Tensor, Tensor],
) -> tuple[Tensor, Tensor | None]:
    if image.shape[1] == 1:
        return _quantize(pad_to_multiple(ops.read_samples(image * 255.0), 8, 8), qt_y, ops), None
    assert qt_c is not None, "RGB images are quantized with a chroma table"
    matrix, offset = color
    if ops.reads_exact_samples:
        ycbcr = rgb_to_ycbcr(ops.read_samples(image * 255.0), matrix, offset)
    else:  # the 0..255 scaling folded into the matrix
        ycbcr = rgb_to_ycbcr(image, *scaled_color(matrix, offset, 255.0))
    luma, chroma = ops.round_sample(ycbcr).split((1, 2), dim=1)  # split: its gradient is one concatenation
    luma = _quantize(pad_to_multiple(luma, 8, 8), qt_y, ops)
    chroma = _quantize(downsample_chroma(chroma, subsampling, ops), qt_c, ops)
    return luma, chroma


def _decode(coefficients: JPEGCoefficients, ops: Mode, color: tuple[Tensor, Tensor]) -> Tensor:
    height, width = coefficients.image_size
    if coefficients.chroma is None:
        return _reconstruct(coefficients.luma, coefficients.qt_y, (height, width), ops, 255.0)
    assert coefficients.qt_c is not None, "chroma blocks come with a chroma table"
    luma = _reconstruct(coefficients.luma, coefficients.qt_y, (height, width), ops)
    chroma = _reconstruct(coefficients.chroma, coefficients.qt_c, coefficients.chroma_size, ops)
    chroma = _crop(upsample_chroma_smooth(chroma, coefficients.subsampling, ops), (height, width))
    rgb = ycbcr_to_rgb(torch.cat((luma, chroma), dim=1), *color)
    return ops.round_clip(rgb, 0.0, 255.0, 255.0)


def _as_int(tensor: Tensor) -> Tensor:
    """An integer-valued tensor (rounded, halves away from zero) as int32 for the exact face."""
    return round_half_away(tensor.detach()).int()


def _as_int_or_none(tensor: Tensor | None) -> Tensor | None:
    return None if tensor is None else _as_int(tensor)


def _decode_exact(coefficients: JPEGCoefficients, dtype: torch.dtype) -> Tensor:
    """The exact face's 8-bit decode divided by 255 in ``dtype``; coefficients and tables are rounded to
    integers first."""
    c = coefficients
    chroma = None if c.chroma is None else c.chroma.detach()
    qt_y, qt_c = _as_int(c.qt_y), _as_int_or_none(c.qt_c)
    # The coefficients are rounded in the decoder's steps (a whole-batch copy costs more than the rounding).
    return decode_exact(
        c.luma.detach(), chroma, qt_y, qt_c, c.subsampling, c.image_size, c.chroma_size, dtype, round_coefficients=True
    )


def _restore_shape(image: Tensor, coefficients: JPEGCoefficients) -> Tensor:
    """Decoded (N, C, H, W) images in the encoded images' dtype and leading dimensions (no reshape op when
    they have them already)."""
    c = coefficients
    leading = c.batch_shape if c.batch_shape is not None else (c.luma.shape[0],)
    shape = (*leading, *image.shape[1:])
    image = image.to(c.dtype)
    return image if image.shape == shape else image.reshape(shape)


def _converted(coefficients: JPEGCoefficients, dtype: torch.dtype) -> JPEGCoefficients:
    """The blocks and tables of ``coefficients`` as ``dtype`` (differentiably); the image dtype is kept."""
    c = coefficients
    chroma, qt_c = (None if t is None else t.to(dtype) for t in (c.chroma, c.qt_c))
    return replace(c, luma=c.luma.to(dtype), chroma=chroma, qt_y=c.qt_y.to(dtype), qt_c=qt_c)


def _decode_own_exact(coefficients: JPEGCoefficients) -> Tensor:
    """``jpeg_decode(coefficients, mode="exact")`` of the exact encoder's own output: its coefficients and
    tables are integers in range already, so they are neither checked nor rounded again (nor converted:
    the dequantization reads the integer-valued floats as they are)."""
    c = coefficients
    qt_c = None if c.qt_c is None else c.qt_c.int()
    image = decode_exact(c.luma, c.chroma, c.qt_y.int(), qt_c, c.subsampling, c.image_size, c.chroma_size, c.luma.dtype)
    return _restore_shape(image, c)


#: Coded values: luma blocks, chroma blocks (None for grayscale), luma and chroma tables.
_Coded = tuple[Tensor, Optional[Tensor], Tensor, Optional[Tensor]]  # noqa: UP045 (a runtime alias)


def _straight_through_coded(exact: _Coded, smooth: _Coded) -> _Coded:
    """The exact values forward, the smooth face's gradients backward (None stays None)."""
    # The blocks are the exact encoder's fresh outputs, passed on without a copy; the tables may be the
    # caller's own tensors, so they get new ones.
    pairs = list(zip(exact, smooth, strict=True))
    luma, chroma = (None if e is None or g is None else straight_through_fresh(e, g) for e, g in pairs[:2])
    qt_y, qt_c = (None if e is None or g is None else straight_through(e, g) for e, g in pairs[2:])
    assert luma is not None and qt_y is not None
    return luma, chroma, qt_y, qt_c


def _color_or_default(color: Color, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor]:
    if color is None:
        return jfif_color_cached(dtype, device)
    return color[0].to(dtype), color[1].to(dtype)


def _checked_settings(
    image: Tensor,
    batched: Tensor,
    quality: float | Tensor | None,
    qt_y: Tensor | None,
    qt_c: Tensor | None,
    checks: ValueChecks,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Quality and tables checked against the (N, C, H, W) ``batched`` images (values added to ``checks``)."""
    batch, device, leading = batched.shape[0], batched.device, tuple(image.shape[:-3])
    quality_ = check_quality(quality, batch, device, leading, checks)
    qt_y_ = check_table("qt_y", qt_y, batch, device, leading, checks)
    qt_c_ = check_table("qt_c", qt_c, batch, device, leading, checks)
    return quality_, qt_y_, qt_c_


#: Checked encoder inputs: (N, C, H, W) images, the mode's operations, per-sample qualities and tables, color.
_CheckedInputs = tuple[Tensor, Mode, Optional[Tensor], Optional[Tensor], Optional[Tensor], Color]  # noqa: UP045


def _checked_encoder_inputs(  # noqa: PLR0913 (the encoder's arguments)
    image: Tensor,
    quality: float | Tensor | None,
    qt_y: Tensor | None,
    qt_c: Tensor | None,
    mode: ModeName,
    subsampling: Subsampling,
    rounding: str | RoundingSurrogate,
    color: Color,
    allow_uint8: bool = False,
) -> _CheckedInputs:
    """Every argument of :func:`jpeg_encode` checked, its values read with one host sync (``allow_uint8``:
    8-bit images too, for the exact face)."""
    checks = ValueChecks()
    batched = check_image(image, checks, allow_uint8=allow_uint8)
    check_choice("subsampling", subsampling, SUBSAMPLING_FACTORS)
    ops = _mode_ops(mode, rounding)
    quality_, qt_y_, qt_c_ = _checked_settings(image, batched, quality, qt_y, qt_c, checks)
    color_ = check_color(color, batched.device, checks)
    _check_exact_color(mode, color_)
    checks.run()
    return batched, ops, quality_, qt_y_, qt_c_, color_


@without_autocast  # float16 or bfloat16 products would change the coded values
def encode_samples_exact(
    image: Tensor,
    quality: float | Tensor | None = None,
    *,
    qt_y: Tensor | None = None,
    qt_c: Tensor | None = None,
    subsampling: Subsampling = "4:2:0",
) -> JPEGCoefficients:
    """``jpeg_encode(mode="exact")`` without gradients, of float images in [0, 1] or of 8-bit images.

    The file writers' encoder: uint8 images (0..255, as ``torchvision.io.encode_jpeg`` and OpenCV take
    them) are coded as they are, which spares the float input's rounding pass and 4x its reads; their
    coefficients decode to float32 images. Arguments as in :func:`jpeg_encode`.

    Example:
        >>> samples = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
        >>> coded = encode_samples_exact(samples, 75.0)
        >>> torch.equal(coded.luma, jpeg_encode(samples / 255.0, 75.0, mode="exact").luma)
        True
    """
    if not isinstance(image, Tensor) or image.is_floating_point():
        with torch.no_grad():
            return jpeg_encode(image, quality, qt_y=qt_y, qt_c=qt_c, mode="exact", subsampling=subsampling)
    batched, _, quality_, qt_y_, qt_c_, _ = _checked_encoder_inputs(
        image, quality, qt_y, qt_c, "exact", subsampling, "dithered", None, allow_uint8=True
    )
    height, width = batched.shape[-2:]
    luma, chroma, qt_y_int, qt_c_int = _exact_coded(batched, quality_, qt_y_, qt_c_, subsampling, torch.float32)
    return JPEGCoefficients(luma, chroma, qt_y_int, qt_c_int, subsampling, (height, width), tuple(image.shape[:-3]))


@without_autocast  # float16 or bfloat16 products would change the coded values
def jpeg_encode(
    image: Tensor,
    quality: float | Tensor | None = None,
    *,
    qt_y: Tensor | None = None,
    qt_c: Tensor | None = None,
    mode: ModeName = "surrogate",
    subsampling: Subsampling = "4:2:0",
    rounding: str | RoundingSurrogate = "dithered",
    color: Color = None,
) -> JPEGCoefficients:
    """Encode images into quantized DCT coefficients, differentiably.

    Args:
        image: float images in [0, 1], (*, C, H, W) with any leading dimensions ((B, C, H, W),
            (C, H, W), clips (B, T, C, H, W)), C = 1 (grayscale) or 3 (RGB).
        quality: JPEG quality in [0, 100] (below 1 coded as 1, as libjpeg does; the gradient there is
            quality 1's): a number, a 0-d tensor or per-sample, (N,) for the N
            images of the flattened leading dimensions or broadcastable to them; fractional
            values interpolate the integer qualities' tables (``"surrogate"``), follow libjpeg's
            formula (``"ste"``) or are rounded to the nearest integer (``"exact"``).
        qt_y: luma table (8, 8) or per-sample ((N, 8, 8) or broadcastable to (*, 8, 8)) in
            [1, 255], natural row-major order. With
            ``quality`` it is scaled like libjpeg scales its base tables; without, used as given.
        qt_c: chroma table, as ``qt_y``.
        mode: ``"surrogate"`` (smooth forward and backward), ``"ste"`` (true rounding forward,
            surrogate derivative backward) or ``"exact"`` (libjpeg-turbo's integer result forward,
            bit-identical to OpenCV and Pillow on ``round(255 * image)``, with exactly the
            ``"surrogate"`` mode's gradients backward; qualities and tables are rounded to the
            nearest integer, halves up, and ``color`` is not supported).
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"``.
        rounding: rounding surrogate of the quantizer: ``"dithered"`` (default: the cubic
            ``round(x) + (x - round(x))**3`` forward, backward the slope of rounding averaged over
            a dither of three gray levels on the coefficients, so a coarse step passes gradient only
            near its rounding boundaries; see :func:`~kornia_diffjpeg.codec.surrogates.dithered_round`),
            ``"polynomial"`` (the cubic with its own derivative ``3 (x - round(x))**2``, the default
            up to 0.2), ``"linear"``, ``"sigmoid"``, ``"tanh"``, ``"fourier"`` or a callable
            approximating ``round``.
        color: optional RGB -> YCbCr ``(matrix (3, 3), offset (3,))`` on the 0..255 scale
            (defaults to JFIF); ignored for grayscale images.

    Returns:
        The coefficients, tables, sampling layout and size, see :class:`JPEGCoefficients`.

    Example:
        >>> coefficients = jpeg_encode(torch.rand(2, 3, 32, 48), quality=75.0)
        >>> coefficients.luma.shape, coefficients.chroma.shape
        (torch.Size([2, 1, 4, 6, 64]), torch.Size([2, 2, 2, 3, 64]))
    """
    batched, ops, quality_, qt_y_, qt_c_, color_ = _checked_encoder_inputs(
        image, quality, qt_y, qt_c, mode, subsampling, rounding, color
    )
    batch, channels, height, width = batched.shape
    device = batched.device
    dtype = _compute_dtype(batched.dtype)
    smooth: _Coded | None = None  # the smooth (or straight-through) face
    if mode != "exact" or records_gradient(batched, quality_, qt_y_, qt_c_):
        tables = _resolve_tables(quality_, qt_y_, qt_c_, channels, batch, ops, dtype, device)
        coded = _encode(batched.to(dtype), *tables, subsampling, ops, _color_or_default(color_, dtype, device))
        smooth = (*coded, *tables)
    values = smooth
    if mode == "exact":  # exact values forward, the smooth face's gradients backward
        exact_values = _exact_coded(batched.detach(), quality_, qt_y_, qt_c_, subsampling, dtype)
        values = exact_values if smooth is None else _straight_through_coded(exact_values, smooth)
    assert values is not None  # the smooth face ran unless the mode is exact
    luma, chroma, tables_y, tables_c = values
    return JPEGCoefficients(
        luma, chroma, tables_y, tables_c, subsampling, (height, width), tuple(image.shape[:-3]), image.dtype
    )


@without_autocast  # float16 or bfloat16 products would change the coded values
def jpeg_decode(
    coefficients: JPEGCoefficients,
    *,
    mode: ModeName = "surrogate",
    rounding: str | RoundingSurrogate = "dithered",
    color: Color = None,
) -> Tensor:
    """Decode quantized coefficients into images in [0, 1] of the encoded shape and dtype.

    Args:
        coefficients: output of :func:`jpeg_encode`.
        mode: ``"surrogate"``, ``"ste"`` or ``"exact"``, as in :func:`jpeg_encode`; exact decoding
            rounds coefficients and tables to integers.
        rounding: rounding surrogate (only the clipping and sample rounding of the decoder use it).
        color: the RGB -> YCbCr parameters used to encode; the inverse is derived from them.

    Example:
        >>> image = torch.rand(3, 16, 16)
        >>> jpeg_decode(jpeg_encode(image, 90.0)).shape
        torch.Size([3, 16, 16])
    """
    ops = _mode_ops(mode, rounding)
    checks = ValueChecks()  # read once
    check_coefficients(coefficients, checks, exact=mode == "exact")
    dtype = coefficients.luma.dtype
    color_ = check_color(color, coefficients.luma.device, checks)
    _check_exact_color(mode, color_)
    checks.run()
    c = coefficients
    if dtype != _compute_dtype(dtype):  # half-precision blocks are decoded in float32, as images are encoded
        c = _converted(c, _compute_dtype(dtype))
        dtype = c.luma.dtype
    if mode == "exact":  # 8-bit samples / 255 in float32 or float64 (then in the images' dtype, as encoded)
        image = _decode_exact(c, dtype)
        if records_gradient(c.luma, c.chroma, c.qt_y, c.qt_c):
            image = straight_through_fresh(image, _decode(c, ops, _color_or_default(None, dtype, c.luma.device)))
    else:
        image = _decode(c, ops, _color_or_default(color_, dtype, c.luma.device))
    return _restore_shape(image, c)


@entry_point  # the first jpeg_encode checks the values, once per call
@without_autocast
def diff_jpeg(
    image: Tensor,
    quality: float | Tensor | None = None,
    *,
    qt_y: Tensor | None = None,
    qt_c: Tensor | None = None,
    mode: ModeName = "surrogate",
    subsampling: Subsampling = "4:2:0",
    rounding: str | RoundingSurrogate = "dithered",
    color: Color = None,
    quality_gradient: QualityGradient = "finite_difference",
) -> Tensor:
    """Differentiable JPEG encoding and decoding, structured like libjpeg-turbo.

    Arguments as in :func:`jpeg_encode`, and ``quality_gradient``: how the gradient w.r.t. a
    ``quality`` that requires grad is computed: ``"finite_difference"`` (default) differentiates the
    mode's own output by a central difference at ``q +- 1`` (one-sided inside [1, 100] at the bounds;
    two extra no-grad forwards, only when the quality requires grad; see
    :mod:`~kornia_diffjpeg.codec.quality_gradient`), ``"surrogate"`` takes the smooth face's analytic
    derivative (the behaviour before 0.2). Returns the coded images with the input's shape, dtype
    and device. In ``"surrogate"`` mode values exceed [0, 1] by 1e-3 of the overshoot before clipping
    (soft clip; measured below 1.2e-3); in
    ``"ste"`` and ``"exact"`` modes they lie exactly in [0, 1]. On the CPU, a forward that records no
    gradient codes a large batch in steps of a few images (faster with the default allocator: see
    :mod:`~kornia_diffjpeg.codec.steps`).

    Example:
        >>> image = torch.rand(2, 3, 37, 51, requires_grad=True)
        >>> quality = torch.tensor([10.0, 90.0], requires_grad=True)
        >>> coded = diff_jpeg(image, quality)
        >>> coded.mean().backward()
        >>> coded.shape, bool(quality.grad.abs().min() > 0)
        (torch.Size([2, 3, 37, 51]), True)
    """
    check_quality_gradient(quality_gradient)
    if quality_gradient == "finite_difference" and records_gradient(quality, qt_y, qt_c):
        settings = {"qt_y": qt_y, "qt_c": qt_c, "subsampling": subsampling, "rounding": rounding, "color": color}
        return secant_codec(diff_jpeg, image, quality, mode=mode, **settings)
    if mode != "exact" and runs_in_steps(image, quality, qt_y, qt_c, color):  # the exact face has steps of its own
        batched, _, quality_, qt_y_, qt_c_, color_ = _checked_encoder_inputs(
            image, quality, qt_y, qt_c, mode, subsampling, rounding, color
        )
        step = functools.partial(diff_jpeg, mode=mode, subsampling=subsampling, rounding=rounding, color=color_)
        return forward_in_steps(step, batched, quality_, qt_y_, qt_c_).reshape(image.shape)

    def encoded(mode: ModeName) -> JPEGCoefficients:
        return jpeg_encode(
            image, quality, qt_y=qt_y, qt_c=qt_c, mode=mode, subsampling=subsampling, rounding=rounding, color=color
        )

    if mode != "exact":
        return jpeg_decode(encoded(mode), mode=mode, rounding=rounding, color=color)
    # The real codec's output forward, and the whole smooth codec's gradient backward (composing the
    # exact encode and decode would differentiate the decoder at the exact coefficients instead).
    with torch.no_grad():
        exact = _decode_own_exact(encoded("exact"))
    if not records_gradient(image, quality, qt_y, qt_c):
        return exact
    smooth = diff_jpeg(
        image,
        quality,
        qt_y=qt_y,
        qt_c=qt_c,
        mode="surrogate",
        subsampling=subsampling,
        rounding=rounding,
        color=color,
        quality_gradient="surrogate",
    )
    return straight_through_fresh(exact, smooth)


class DiffJPEGCodec(nn.Module):
    """Module form of :func:`diff_jpeg` with fixed settings; quality and tables go to ``forward``.

    Args:
        mode: ``"surrogate"``, ``"ste"`` or ``"exact"`` (see :func:`jpeg_encode`).
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"``.
        rounding: rounding surrogate of the smooth face (see :func:`jpeg_encode`).
        quality_gradient: ``"finite_difference"`` or ``"surrogate"`` (see :func:`diff_jpeg`).

    Example:
        >>> codec = DiffJPEGCodec(mode="exact")
        >>> codec(torch.rand(2, 3, 32, 32), 75.0).shape
        torch.Size([2, 3, 32, 32])
        >>> codec(torch.rand(1, 3, 16, 16), qt_y=torch.full((8, 8), 8.0), qt_c=torch.full((8, 8), 16.0)).shape
        torch.Size([1, 3, 16, 16])
    """

    def __init__(
        self,
        mode: ModeName = "surrogate",
        subsampling: Subsampling = "4:2:0",
        rounding: str | RoundingSurrogate = "dithered",
        quality_gradient: QualityGradient = "finite_difference",
    ) -> None:
        super().__init__()
        check_choice("mode", mode, MODES)
        check_choice("subsampling", subsampling, SUBSAMPLING_FACTORS)
        resolve_rounding(rounding)
        check_quality_gradient(quality_gradient)
        self.mode, self.subsampling, self.rounding = mode, subsampling, rounding
        self.quality_gradient = quality_gradient

    def forward(
        self,
        image: Tensor,
        quality: float | Tensor | None = None,
        *,
        qt_y: Tensor | None = None,
        qt_c: Tensor | None = None,
        color: Color = None,
    ) -> Tensor:
        return diff_jpeg(
            image,
            quality,
            qt_y=qt_y,
            qt_c=qt_c,
            mode=self.mode,
            subsampling=self.subsampling,
            rounding=self.rounding,
            color=color,
            quality_gradient=self.quality_gradient,
        )

    def extra_repr(self) -> str:
        return (
            f"mode={self.mode!r}, subsampling={self.subsampling!r}, rounding={self.rounding!r}, "
            f"quality_gradient={self.quality_gradient!r}"
        )
