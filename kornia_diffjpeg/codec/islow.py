"""libjpeg's accurate integer DCT (``jfdctint.c`` / ``jidctint.c``, the ISLOW method), bit for bit.

Within each pass the LL&M butterfly is linear with integer constants and rounds only once, when
it descales. So each pass is an integer 8x8 matrix followed by ``(x + 2**(s-1)) >> s``. The
matrices are derived here by running the butterfly on unit vectors, and the products are computed
in float64, where every intermediate value (< 2**40) is an exact integer.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kornia_diffjpeg.codec.constants import cached

__all__ = ["forward_islow", "inverse_islow"]

CONST_BITS, PASS1_BITS = 13, 2
F0298, F0390, F0541, F0765 = 2446, 3196, 4433, 6270
F0899, F1175, F1501, F1847 = 7373, 9633, 12299, 15137
F1961, F2053, F2562, F3072 = 16069, 16819, 20995, 25172


def _odd_part(t4: int, t5: int, t6: int, t7: int) -> tuple[int, int, int, int]:
    """The shared odd half of both butterflies; returns the terms of outputs 7, 5, 3, 1 (forward)."""
    z1, z2, z3, z4 = t4 + t7, t5 + t6, t4 + t6, t5 + t7
    z5 = (z3 + z4) * F1175
    z1, z2 = z1 * -F0899, z2 * -F2562
    z3, z4 = z3 * -F1961 + z5, z4 * -F0390 + z5
    return t4 * F0298 + z1 + z3, t5 * F2053 + z2 + z4, t6 * F3072 + z2 + z3, t7 * F1501 + z1 + z4


def _forward_butterfly(d: list[int], dc_scale: int) -> list[int]:
    """Outputs before descaling; the even outputs 0 and 4 are multiplied by ``dc_scale``."""
    t0, t7, t1, t6 = d[0] + d[7], d[0] - d[7], d[1] + d[6], d[1] - d[6]
    t2, t5, t3, t4 = d[2] + d[5], d[2] - d[5], d[3] + d[4], d[3] - d[4]
    t10, t13, t11, t12 = t0 + t3, t0 - t3, t1 + t2, t1 - t2
    z1 = (t12 + t13) * F0541
    out = [0] * 8
    out[0], out[4] = (t10 + t11) * dc_scale, (t10 - t11) * dc_scale
    out[2], out[6] = z1 + t13 * F0765, z1 - t12 * F1847
    out[7], out[5], out[3], out[1] = _odd_part(t4, t5, t6, t7)
    return out


def _inverse_butterfly(x: list[int]) -> list[int]:
    """Outputs of the inverse butterfly before descaling."""
    z1 = (x[2] + x[6]) * F0541
    t2, t3 = z1 - x[6] * F1847, z1 + x[2] * F0765
    t0, t1 = (x[0] + x[4]) << CONST_BITS, (x[0] - x[4]) << CONST_BITS
    t10, t13, t11, t12 = t0 + t3, t0 - t3, t1 + t2, t1 - t2
    o7, o5, o3, o1 = _odd_part(x[7], x[5], x[3], x[1])
    return [t10 + o1, t11 + o3, t12 + o5, t13 + o7, t13 - o7, t12 - o5, t11 - o3, t10 - o1]


def _matrix(butterfly) -> list[list[int]]:  # noqa: ANN001
    columns = [butterfly([int(i == j) for i in range(8)]) for j in range(8)]
    return [[columns[j][i] for j in range(8)] for i in range(8)]


def _build_passes() -> dict[str, tuple[list[list[int]], list[int]]]:
    """For each pass: the (8, 8) integer matrix and the per-output descale shifts."""
    dc_rows = (0, 4)
    return {
        "forward1": (
            _matrix(lambda d: _forward_butterfly(d, 1 << PASS1_BITS)),
            [0 if k in dc_rows else CONST_BITS - PASS1_BITS for k in range(8)],
        ),
        "forward2": (
            _matrix(lambda d: _forward_butterfly(d, 1)),
            [PASS1_BITS if k in dc_rows else CONST_BITS + PASS1_BITS for k in range(8)],
        ),
        "inverse1": (_matrix(_inverse_butterfly), [CONST_BITS - PASS1_BITS] * 8),
        "inverse2": (_matrix(_inverse_butterfly), [CONST_BITS + PASS1_BITS + 3] * 8),
    }


_PASSES = _build_passes()


def _pass_constants(name: str, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """The pass's integer matrix, the descale's rounding bias and the inverse powers of two, cached."""
    matrix, shifts = _PASSES[name]
    return (
        cached(("islow", name), dtype, device, lambda: torch.tensor(matrix, dtype=torch.float64)),
        cached(("islow_bias", name), dtype, device, lambda: torch.tensor([float(1 << k >> 1) for k in shifts])),
        cached(("islow_scale", name), dtype, device, lambda: torch.tensor([1.0 / (1 << k) for k in shifts])),
    )


def _row_pass(x: Tensor, name: str) -> Tensor:
    """One pass along the rows of float64 integer-valued blocks (..., 8, 8): matrix, then descale."""
    matrix, bias, scale = _pass_constants(name, x.dtype, x.device)
    products = torch.addmm(bias, x.reshape(-1, 8), matrix.T)  # bias fused into the product
    return products.mul_(scale).floor_().view(x.shape)  # powers of two: exact


def _column_pass(x: Tensor, name: str) -> Tensor:
    """One pass along the columns of blocks (..., 8, 8), as a product from the left: no transposed copies."""
    matrix, bias, scale = _pass_constants(name, x.dtype, x.device)
    return torch.matmul(matrix, x).add_(bias.view(8, 1)).mul_(scale.view(8, 1)).floor_()


def forward_islow(blocks: Tensor) -> Tensor:
    """``jpeg_fdct_islow`` of level-shifted samples (..., 8, 8) (integer-valued); output scaled by 8, float64.

    Every intermediate value is an integer below 2**40: exact in float64 (and float64 products are not
    subject to TF32 on GPUs).
    """
    return _column_pass(_row_pass(blocks.double(), "forward1"), "forward2")


def inverse_islow(dequantized: Tensor) -> Tensor:
    """``jpeg_idct_islow`` of dequantized coefficients (..., 8, 8), before the +128 level shift and range limit."""
    return _row_pass(_column_pass(dequantized.double(), "inverse1"), "inverse2")
