"""A smooth, differentiable estimate of the JPEG file size under the standard Huffman tables.

The entropy coder's bit count is written as a function of the quantized coefficients that is exact at
integers and piecewise linear in between: a soft non-zero indicator ``min(|y|, 1)``, a soft size
category (the category of ``floor(|y|)`` interpolated linearly to that of ``floor(|y|) + 1``), run
lengths carried through a soft recurrence ``run' = (1 - nonzero) (run + 1)``, an EOB weighted by the
last coefficient being zero, and the Annex K code lengths of (run, size) symbols and DC categories
interpolated bilinearly in run and size. DC differences follow libjpeg's MCU order, including the
dummy blocks at the right and bottom edges.

The value is this relaxation at the exact coefficients (``jpeg_encode(mode="exact")``), so the bit
count is the real one; what is estimated is the byte stuffing (a 0x00 after every 0xFF byte) and the
final padding, from a few calibration scalars. The gradient is the relaxation's at the smooth
coefficients (``mode="surrogate"``), which still tell how far a zero is from becoming non-zero.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kornia_diffjpeg._checks import ValueChecks, check_choice, check_image, check_quality, check_table, entry_point
from kornia_diffjpeg.codec.options import Subsampling
from kornia_diffjpeg.codec.pipeline import JPEGCoefficients, jpeg_encode
from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS, ceil_div
from kornia_diffjpeg.filesize.exact import header_size
from kornia_diffjpeg.filesize.huffman import ZIGZAG, huffman_codes

__all__ = ["DiffJPEGFileSize", "diff_jpeg_file_size", "entropy_coded_cost"]

MAX_AC_SIZE = 10
MAX_DC_SIZE = 11
#: Calibration fitted on skimage photos that the benchmarks hold out (see ``DiffJPEGFileSize``).
DEFAULT_CALIBRATION = {"ff_scale": 1.549, "stuffing": -0.00165}


def _expected_ff(code: str, extra_bits: int) -> float:
    """Expected aligned 0xFF bytes that start inside a code or its ``extra_bits`` magnitude bits.

    A byte starts at each bit with probability 1/8; magnitude bits and the bits after them are taken
    as fair coin flips. Counting each byte at the bit it starts at counts it once.
    """
    probabilities = [float(bit) for bit in code] + [0.5] * (extra_bits + 8)
    total = 0.0
    for start in range(len(code) + extra_bits):
        window = 1.0
        for p in probabilities[start : start + 8]:
            window *= p
        total += window
    return total / 8.0


def _ac_tables(luma: bool) -> tuple[Tensor, Tensor]:
    """Bits and expected 0xFF bytes of a non-zero AC coefficient by (run 0..62, size 0..10).

    ZRL codes for each 16 zeros, the (run % 16, size) code and ``size`` magnitude bits. Size 0 repeats
    size 1: below magnitude 1 the soft non-zero indicator scales the cost instead.
    """
    codes = huffman_codes(luma, ac=True)
    bits = torch.zeros(63, MAX_AC_SIZE + 1, dtype=torch.float64)
    ff = torch.zeros_like(bits)
    for run in range(63):
        for size in range(MAX_AC_SIZE + 1):
            symbol, zrl = codes[(run % 16) << 4 | max(size, 1)], codes[0xF0]
            bits[run, size] = len(zrl) * (run // 16) + len(symbol) + max(size, 1)
            ff[run, size] = _expected_ff(zrl, 0) * (run // 16) + _expected_ff(symbol, max(size, 1))
    return bits, ff


def _dc_tables(luma: bool) -> tuple[Tensor, Tensor]:
    """Bits and expected 0xFF bytes of a DC difference by size category 0..11."""
    codes = huffman_codes(luma, ac=False)
    bits = [len(codes[size]) + size for size in range(MAX_DC_SIZE + 1)]
    ff = [_expected_ff(codes[size], size) for size in range(MAX_DC_SIZE + 1)]
    return torch.tensor(bits, dtype=torch.float64), torch.tensor(ff, dtype=torch.float64)


def _eob(luma: bool) -> tuple[int, float]:
    code = huffman_codes(luma, ac=True)[0x00]
    return len(code), _expected_ff(code, 0)


_AC = {luma: _ac_tables(luma) for luma in (True, False)}
_DC = {luma: _dc_tables(luma) for luma in (True, False)}
_EOB = {luma: _eob(luma) for luma in (True, False)}


def _soft_size(magnitude: Tensor) -> Tensor:
    """Size category ``floor(log2 m) + 1`` (0 for 0) at integers, linear between consecutive integers."""
    whole = magnitude.detach().floor()
    low = torch.frexp(whole).exponent.to(magnitude.dtype)
    high = torch.frexp(whole + 1).exponent.to(magnitude.dtype)
    return low + (magnitude - whole) * (high - low)


def _lerp_table(table: Tensor, position: Tensor) -> Tensor:
    """A 1-D table read at fractional positions in [0, len - 1], linearly."""
    low = position.detach().floor().clamp_(0, table.numel() - 2)
    index = low.long()
    return torch.lerp(table[index], table[index + 1], position - low)


def _bilinear_table(table: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """A 2-D table read at fractional (row, col) positions inside it, bilinearly."""
    height, width = table.shape
    row0 = rows.detach().floor().clamp_(0, height - 2)
    col0 = cols.detach().floor().clamp_(0, width - 2)
    index = (row0 * width + col0).long()
    flat = table.reshape(-1)
    fr, fc = rows - row0, cols - col0
    top = torch.lerp(flat[index], flat[index + 1], fc)
    bottom = torch.lerp(flat[index + width], flat[index + width + 1], fc)
    return torch.lerp(top, bottom, fr)


def _soft_runs(nonzero: Tensor) -> Tensor:
    """Zeros before each AC position since the last non-zero one, for soft indicators (..., 63)."""
    run = torch.zeros_like(nonzero[..., 0])
    runs = []
    for k in range(nonzero.shape[-1]):
        runs.append(run)
        run = (1.0 - nonzero[..., k]) * (run + 1.0)
    return torch.stack(runs, dim=-1)


def _ac_cost(blocks: Tensor, luma: bool) -> Tensor:
    """AC bits and expected 0xFF bytes, (2, B), of (B, N, 64) natural-order blocks."""
    zigzag = blocks[..., list(ZIGZAG[1:])]
    magnitude = zigzag.abs()
    nonzero = magnitude.clamp(max=1.0)
    size = _soft_size(magnitude).clamp(1.0, float(MAX_AC_SIZE))
    runs = _soft_runs(nonzero)
    tables = torch.stack(_AC[luma]).to(blocks)  # (2, runs, sizes)
    cost = torch.stack([(nonzero * _bilinear_table(table, runs, size)).sum((-1, -2)) for table in tables])
    ends = (1.0 - nonzero[..., -1]).sum(-1)  # an EOB unless the last coefficient is non-zero
    return cost + ends * ends.new_tensor(_EOB[luma]).unsqueeze(-1)


def _mcu_order(dc: Tensor, factor_w: int, factor_h: int) -> Tensor:
    """(B, rows, cols) DC values in coding order with libjpeg's dummy blocks (``jccoefct.c``).

    Dummy blocks fill the MCUs at the right and bottom edges: a right one repeats the DC of the row's
    last block, a bottom one the DC of the last block of its MCU in the row above; their AC is zero.
    """
    batch, rows, cols = dc.shape
    pad_cols = ceil_div(cols, factor_w) * factor_w - cols
    pad_rows = ceil_div(rows, factor_h) * factor_h - rows
    if pad_cols:
        dc = torch.cat((dc, dc[..., -1:].expand(batch, rows, pad_cols)), dim=-1)
    if pad_rows:
        bottom = dc[:, -1, factor_w - 1 :: factor_w].repeat_interleave(factor_w, dim=-1)
        dc = torch.cat((dc, bottom.unsqueeze(1).expand(batch, pad_rows, -1)), dim=1)
    rows, cols = dc.shape[1:]
    dc = dc.reshape(batch, rows // factor_h, factor_h, cols // factor_w, factor_w)
    return dc.permute(0, 1, 3, 2, 4).reshape(batch, -1)


def _component_cost(blocks: Tensor, luma: bool, factors: tuple[int, int]) -> Tensor:
    """Bits and expected 0xFF bytes, (2, B), of one component's (B, rows, cols, 64) blocks."""
    batch, rows, cols, _ = blocks.shape
    ac = _ac_cost(blocks.reshape(batch, rows * cols, 64), luma)
    dc = _mcu_order(blocks[..., 0], *factors)
    dummies = dc.shape[-1] - rows * cols  # DC difference 0 (counted below) and an EOB each
    difference = torch.diff(dc, dim=-1, prepend=torch.zeros_like(dc[:, :1]))
    size = _soft_size(difference.abs()).clamp(max=float(MAX_DC_SIZE))
    dc_cost = torch.stack([_lerp_table(table.to(blocks), size).sum(-1) for table in _DC[luma]])
    return ac + dc_cost + dummies * ac.new_tensor(_EOB[luma]).unsqueeze(-1)


def entropy_coded_cost(coefficients: JPEGCoefficients) -> Tensor:
    """Soft bit count of the entropy-coded data and its expected 0xFF bytes, (2, B).

    The bit count is exact (before byte stuffing and padding) when the coefficients are integers.
    """
    if not isinstance(coefficients, JPEGCoefficients):
        raise TypeError(f"coefficients must be JPEGCoefficients (from jpeg_encode), got {type(coefficients).__name__}")
    c = coefficients
    if c.chroma is None:
        return _component_cost(c.luma[:, 0], True, (1, 1))
    cost = _component_cost(c.luma[:, 0], True, SUBSAMPLING_FACTORS[c.subsampling])
    for plane in c.chroma.unbind(1):
        cost = cost + _component_cost(plane, False, (1, 1))
    return cost


def _estimate(
    image: Tensor,
    quality: float | Tensor | None,
    qt_y: Tensor | None,
    qt_c: Tensor | None,
    subsampling: Subsampling,
    ff_scale: Tensor,
    stuffing: Tensor,
) -> Tensor:
    checks = ValueChecks()  # read once: the nested jpeg_encode calls skip their value checks
    batched = check_image(image, checks)
    check_choice("subsampling", subsampling, SUBSAMPLING_FACTORS)
    batch, device = batched.shape[0], batched.device
    leading = tuple(image.shape[:-3])  # per-sample settings may have the images' leading shape, as in jpeg_encode
    quality_ = check_quality(quality, batch, device, leading, checks)
    qt_y_ = check_table("qt_y", qt_y, batch, device, leading, checks)
    qt_c_ = check_table("qt_c", qt_c, batch, device, leading, checks)
    for name, value in (("ff_scale", ff_scale), ("stuffing", stuffing)):
        if isinstance(value, nn.Parameter):  # DiffJPEGFileSize's: a diverged optimizer step leaves NaN
            if value.is_meta and not batched.is_meta:  # no value to move to the images' device
                raise ValueError(f"{name} is on the meta device but image is on {device}; move the module there")
            checks.finite(name, value.reshape(1))
    checks.run()
    if batch == 0:  # no image: no size
        dtype = torch.float64 if batched.dtype == torch.float64 else torch.float32
        return batched.new_zeros(0, dtype=dtype)
    with torch.no_grad():
        exact = jpeg_encode(batched, quality_, qt_y=qt_y_, qt_c=qt_c_, mode="exact", subsampling=subsampling)
        cost = entropy_coded_cost(exact)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (batched, quality_, qt_y_, qt_c_)):
        # The exact count's value, the relaxation's gradient at the smooth coefficients.
        coefficients = jpeg_encode(batched, quality_, qt_y=qt_y_, qt_c=qt_c_, mode="surrogate", subsampling=subsampling)
        smooth = entropy_coded_cost(coefficients)
        cost = smooth + (cost - smooth).detach()
    bits, ff = cost.unbind(0)
    data = bits / 8.0 + 0.5  # the last byte is padded with 1 bits: half a byte on average
    return header_size(batched.shape[1]) + data * (1.0 + stuffing.to(data)) + ff_scale.to(data) * ff


@entry_point
def diff_jpeg_file_size(
    image: Tensor,
    quality: float | Tensor | None = None,
    *,
    qt_y: Tensor | None = None,
    qt_c: Tensor | None = None,
    subsampling: Subsampling = "4:2:0",
) -> Tensor:
    """Differentiable estimate of the JPEG file size in bytes with the standard Huffman tables.

    Estimates ``len(cv2.imencode(...))`` (and Pillow's size) for the same settings, with gradients
    w.r.t. the image, the quality and the tables. The bit count of the entropy-coded data is exact
    for the (integer) quality and tables; the byte stuffing is estimated (see the module docstring).

    Args:
        image: float images in [0, 1], (*, C, H, W), e.g. (B, C, H, W) or (C, H, W), C = 1 or 3.
        quality: JPEG quality in [0, 100] (0 coded as 1, as libjpeg does): a number, a 0-d tensor or
            per-sample (B,) (or broadcastable to the leading shape, as in :func:`~kornia_diffjpeg.jpeg_encode`).
            The value is that of the nearest integer quality; the gradient is the smooth codec's.
        qt_y: luma table (8, 8) or per-sample (B, 8, 8) in [1, 255], natural order, as in
            :func:`~kornia_diffjpeg.jpeg_encode`.
        qt_c: chroma table, as ``qt_y``.
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"``.

    Returns:
        Estimated sizes in bytes, (N,) for the N images of the flattened leading dimensions ((1,) for
        (C, H, W)), float32 (float64 for float64 images).

    Example:
        >>> quality = torch.tensor([20.0, 80.0], requires_grad=True)
        >>> size = diff_jpeg_file_size(torch.rand(2, 3, 32, 32), quality)
        >>> size.sum().backward()
        >>> bool(size[1] > size[0]), bool((quality.grad > 0).all())
        (True, True)
    """
    calibration = {name: torch.tensor(value) for name, value in DEFAULT_CALIBRATION.items()}
    return _estimate(image, quality, qt_y, qt_c, subsampling, **calibration)


class DiffJPEGFileSize(nn.Module):
    """Module form of :func:`diff_jpeg_file_size` whose calibration scalars are trainable.

    Args:
        subsampling: ``"4:2:0"``, ``"4:2:2"`` or ``"4:4:4"``.

    Attributes:
        ff_scale: stuffed bytes per expected 0xFF byte of the coin-flip model (see ``_expected_ff``).
        stuffing: further stuffed bytes per byte of entropy-coded data.

    Example:
        >>> model = DiffJPEGFileSize()
        >>> model(torch.rand(1, 3, 16, 16), 75.0).shape
        torch.Size([1])
    """

    def __init__(self, subsampling: Subsampling = "4:2:0") -> None:
        super().__init__()
        check_choice("subsampling", subsampling, SUBSAMPLING_FACTORS)
        self.subsampling = subsampling
        self.ff_scale = nn.Parameter(torch.tensor(DEFAULT_CALIBRATION["ff_scale"]))
        self.stuffing = nn.Parameter(torch.tensor(DEFAULT_CALIBRATION["stuffing"]))

    @entry_point
    def forward(
        self,
        image: Tensor,
        quality: float | Tensor | None = None,
        qt_y: Tensor | None = None,
        qt_c: Tensor | None = None,
    ) -> Tensor:
        return _estimate(image, quality, qt_y, qt_c, self.subsampling, self.ff_scale, self.stuffing)

    def extra_repr(self) -> str:
        return f"subsampling={self.subsampling!r}"
