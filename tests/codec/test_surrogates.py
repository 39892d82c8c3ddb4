"""Rounding surrogates, half-away rounding, straight-through estimation and the soft clip."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.autograd import gradcheck

from kornia_diffjpeg._autograd import FusedFunction
from kornia_diffjpeg.codec import ROUNDING_SURROGATES, surrogates
from kornia_diffjpeg.codec.surrogates import (
    CLIP_SLOPE,
    DITHER_SCALE,
    differentiable_clip,
    dithered_round,
    dithered_round_slope,
    dithered_round_straight_through,
    fourier_round,
    linear_round,
    polynomial_round,
    resolve_rounding,
    round_half_away,
    rounded_clip,
    sigmoid_round,
    straight_through,
    straight_through_fresh,
    tanh_round,
)

NAMES = ("dithered", "polynomial", "linear", "sigmoid", "tanh", "fourier")
# The surrogates whose backward is their forward's derivative ("dithered" takes the polynomial's value
# with the expected rounding's slope: TestDitheredRound).
SMOOTH_NAMES = tuple(name for name in NAMES if name != "dithered")

# Largest |g(x) - round(x)| of each surrogate, (anywhere, within 1/4 of an integer).
#   polynomial: |x - round(x)|**3 <= 1/8, and (1/4)**3 = 1/64 near the integers;
#   linear: 0.1 |x - round(x)| <= 0.05, and 0.025 near the integers;
#   sigmoid (k=60), tanh (k=10): continuous steps, so up to 1/2 at the half-integers; near the
#     integers sigmoid(-15) ~ 3e-7 and 1/2 - tanh(2.5) / (2 tanh(5)) ~ 6.6e-3;
#   fourier (10 terms): Gibbs overshoot at the half-integers; measured 0.0193 near the integers.
# The small additions cover float32 evaluation far from 0.
ERROR_BOUNDS = {
    "dithered": (0.125 + 1e-6, 1 / 64 + 1e-6),  # the polynomial's value
    "polynomial": (0.125 + 1e-6, 1 / 64 + 1e-6),
    "linear": (0.05 + 1e-3, 0.025 + 1e-3),
    "sigmoid": (0.5 + 1e-6, 1e-6),
    "tanh": (0.5 + 1e-6, 0.01),
    "fourier": (0.5 + 0.01, 0.03),
}


def numpy_round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def test_registry():
    assert set(ROUNDING_SURROGATES) == set(NAMES)
    assert ROUNDING_SURROGATES["dithered"] is dithered_round
    assert ROUNDING_SURROGATES["polynomial"] is polynomial_round
    assert ROUNDING_SURROGATES["linear"] is linear_round
    assert ROUNDING_SURROGATES["sigmoid"] is sigmoid_round
    assert ROUNDING_SURROGATES["tanh"] is tanh_round
    assert ROUNDING_SURROGATES["fourier"] is fourier_round
    for name in NAMES:
        assert resolve_rounding(name) is ROUNDING_SURROGATES[name]

    def custom(x):
        return x

    assert resolve_rounding(custom) is custom
    with pytest.raises(ValueError, match="rounding"):
        resolve_rounding("round")


class TestRoundHalfAway:
    def test_halves(self):
        x = torch.tensor([-3.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5], dtype=torch.float64)
        assert round_half_away(x).tolist() == [-4.0, -3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 4.0]
        # torch.round rounds halves to even, libjpeg does not.
        assert not torch.equal(round_half_away(x), torch.round(x))

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    def test_half_precision_every_value(self, dtype):
        """Every finite float16 / bfloat16 value: x + 1/2 would round in the half dtype (129 -> 130 in
        bfloat16, 1025 -> 1026 in float16)."""
        bits = torch.arange(-(1 << 15), 1 << 15, dtype=torch.int32).to(torch.int16)
        x = bits.view(dtype)
        x = x[torch.isfinite(x)]
        rounded = round_half_away(x)
        assert rounded.dtype == dtype
        np.testing.assert_array_equal(rounded.double().numpy(), numpy_round_half_away(x.double().numpy()))

    @given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=32))
    def test_matches_numpy(self, values):
        x = np.asarray(values, dtype=np.float64)
        np.testing.assert_array_equal(round_half_away(torch.from_numpy(x)).numpy(), numpy_round_half_away(x))

    @given(st.integers(-10_000, 10_000), st.sampled_from([torch.float32, torch.float64]))
    def test_exact_halves_match_numpy(self, n, dtype):
        x = torch.tensor([n + 0.5, n - 0.5, n], dtype=dtype)
        expected = numpy_round_half_away(x.double().numpy())
        np.testing.assert_array_equal(round_half_away(x).double().numpy(), expected)


class TestSurrogatesApproximateRound:
    @pytest.mark.parametrize("name", NAMES)
    @given(values=st.lists(st.floats(-1000.0, 1000.0, allow_nan=False), min_size=1, max_size=64))
    def test_bounded_error(self, name, values):
        x = torch.tensor(values, dtype=torch.float64)
        nearest = round_half_away(x)
        error = (ROUNDING_SURROGATES[name](x) - nearest).abs()
        bound, near_bound = ERROR_BOUNDS[name]
        assert float(error.max()) <= bound
        near = (x - nearest).abs() <= 0.25
        if near.any():
            assert float(error[near].max()) <= near_bound

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    @pytest.mark.parametrize("name", NAMES)
    def test_dense_grid(self, name, dtype):
        # The range of quantized DCT coefficients (|DCT| <= 2040 with tables >= 1).
        x = torch.linspace(-2048.0, 2048.0, 200_001, dtype=dtype)
        nearest = round_half_away(x)
        error = (ROUNDING_SURROGATES[name](x) - nearest).abs()
        bound, near_bound = ERROR_BOUNDS[name]
        assert float(error.max()) <= bound
        assert float(error[(x - nearest).abs() <= 0.25].max()) <= near_bound

    @pytest.mark.parametrize("name", NAMES)
    def test_integers_are_fixed_points(self, name):
        n = torch.arange(-300, 301, dtype=torch.float64)
        torch.testing.assert_close(ROUNDING_SURROGATES[name](n), n, atol=1e-6, rtol=0)

    @pytest.mark.parametrize("name", ["dithered", "polynomial", "linear", "sigmoid", "tanh"])
    def test_monotone(self, name):
        # (The truncated Fourier series wiggles, so it is not monotone.)
        x = torch.linspace(-5.0, 5.0, 100_001, dtype=torch.float64)
        assert bool((torch.diff(ROUNDING_SURROGATES[name](x)) >= 0).all())

    @pytest.mark.parametrize("name", NAMES)
    def test_preserves_shape_and_dtype(self, name):
        for dtype in (torch.float32, torch.float64):
            x = torch.randn(2, 3, 4, dtype=dtype) * 10
            y = ROUNDING_SURROGATES[name](x)
            assert y.shape == x.shape and y.dtype == dtype


def _off_grid_points(seed: int, count: int = 12) -> torch.Tensor:
    """Points n + f with f away from 0 and 1/2, where every surrogate is smooth."""
    generator = torch.Generator().manual_seed(seed)
    n = torch.randint(-6, 7, (count,), generator=generator).double()
    fractions = torch.tensor([0.1, 0.2, 0.3, 0.38, 0.62, 0.7, 0.8, 0.9], dtype=torch.float64)
    f = fractions[torch.randint(0, len(fractions), (count,), generator=generator)]
    return n + f + 0.01 * torch.rand(count, generator=generator, dtype=torch.float64)


class TestGradients:
    @pytest.mark.parametrize("name", SMOOTH_NAMES)
    def test_gradcheck(self, name):
        x = _off_grid_points(0).requires_grad_()
        assert gradcheck(ROUNDING_SURROGATES[name], (x,))

    @pytest.mark.parametrize("name", NAMES)
    def test_gradient_finite_everywhere(self, name):
        x = torch.linspace(-4.0, 4.0, 161, dtype=torch.float64, requires_grad=True)  # integers and halves
        ROUNDING_SURROGATES[name](x).sum().backward()
        assert bool(torch.isfinite(x.grad).all())
        assert bool((x.grad >= 0).all()) or name == "fourier"

    def test_gradcheck_differentiable_clip(self):
        x = torch.tensor([-3.2, -0.7, 0.05, 0.4, 0.93, 1.6, 300.0], dtype=torch.float64, requires_grad=True)
        assert gradcheck(lambda v: differentiable_clip(v, 0.0, 1.0), (x,))
        y = torch.tensor([-10.0, 3.0, 250.0, 260.0], dtype=torch.float64, requires_grad=True)
        assert gradcheck(lambda v: differentiable_clip(v, 0.0, 255.0), (y,))

    def test_polynomial_derivative(self):
        x = torch.tensor([0.1, 0.3, 1.8, -2.4], dtype=torch.float64, requires_grad=True)
        polynomial_round(x).sum().backward()
        expected = 3 * (x.detach() - round_half_away(x.detach())) ** 2
        torch.testing.assert_close(x.grad, expected)


def _expected_rounding(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """E[round(x + n)], n ~ N(0, sigma**2), up to a constant: one normal CDF per rounding boundary."""
    boundaries = torch.arange(-20, 21, dtype=torch.float64) + 0.5
    return torch.special.ndtr((x[:, None] - boundaries) / sigma).sum(1)


class TestDitheredRound:
    @pytest.mark.parametrize("step", [1.0, 4.0, 8.0, 9.0, 40.0, 255.0])
    def test_slope_is_the_expected_roundings_derivative(self, step):
        sigma = min(DITHER_SCALE / step, 0.25)
        x = torch.linspace(-3.0, 3.0, 2401, dtype=torch.float64)
        h = 1e-5
        numeric = (_expected_rounding(x + h, sigma) - _expected_rounding(x - h, sigma)) / (2 * h)
        # The slope keeps the two nearest boundaries: the others add under 6e-4 at sigma = 1/4.
        torch.testing.assert_close(dithered_round_slope(x, step), numeric, atol=6e-4 + 1e-6 * numeric.max(), rtol=1e-5)

    @pytest.mark.parametrize("step", [1.0, 2.0, 16.0, 100.0, 255.0])
    def test_mean_slope_over_a_step_is_one(self, step):
        # The expected rounding of uniformly placed values is unbiased: its slope averages 1 (the
        # cubic's own derivative averages 1/4).
        x = torch.linspace(0.0, 1.0, 400_001, dtype=torch.float64)  # the boundary at 1/2 in the middle
        assert abs(float(dithered_round_slope(x, step).mean()) - 1.0) < 1e-4

    def test_coarse_steps_pass_gradient_near_boundaries(self):
        x = torch.tensor([0.0, 0.3, 0.4, 0.49, 0.5, 1.0], dtype=torch.float64)
        slope = dithered_round_slope(x, 255.0)  # sigma = 3/255 of a step
        assert slope[[0, 1, 2, 5]].max() < 1e-6 and slope[3] > 1.0 and slope[4] == slope.max()
        assert slope[2] > 0  # the tails keep a direction
        fine = dithered_round_slope(x, 1.0)  # sigma capped at 1/4: 0.43 midway, 1.6 at a boundary
        assert 0.4 < float(fine.min()) and float(fine.max()) < 1.61 and fine[4] == fine.max()

    @given(values=st.lists(st.floats(-500.0, 500.0, allow_nan=False), min_size=1, max_size=32))
    def test_values(self, values):
        x = torch.tensor(values, dtype=torch.float64)
        step = torch.full_like(x, 7.0)
        assert torch.equal(dithered_round(x, step), polynomial_round(x))
        assert torch.equal(dithered_round_straight_through(x, step), round_half_away(x))

    def test_backward_uses_the_scale_of_its_forward(self, monkeypatch):
        x = torch.tensor([0.2, 0.45, 0.49], dtype=torch.float64, requires_grad=True)
        step = torch.full_like(x, 40.0)
        monkeypatch.setattr(surrogates, "DITHER_SCALE", 5.0)
        coded = dithered_round(x, step)
        monkeypatch.setattr(surrogates, "DITHER_SCALE", 1.0)
        coded.sum().backward()
        torch.testing.assert_close(x.grad, dithered_round_slope(x.detach(), step, 5.0))
        assert not torch.allclose(x.grad, dithered_round_slope(x.detach(), step))

    @pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf"), 1e-300, 1e-4])
    def test_invalid_scales_are_refused(self, scale, monkeypatch):
        x = torch.tensor([0.2, 0.49], requires_grad=True)
        with pytest.raises(ValueError, match="dither_scale"):
            dithered_round_slope(x.detach(), 8.0, scale)
        monkeypatch.setattr(surrogates, "DITHER_SCALE", scale)
        with pytest.raises(ValueError, match="DITHER_SCALE"):
            dithered_round(x, torch.tensor(8.0))
        with pytest.raises(TypeError, match="dither_scale"):
            dithered_round_slope(x.detach(), 8.0, "3")

    def test_smallest_scale_gives_finite_slopes(self):
        # At a boundary (distance 0) the comb peaks at about step / scale: 1e-300 gave inf * 0 = NaN there.
        x = torch.tensor([0.0, 0.5, 0.4999, 1.5], requires_grad=True)
        slope = dithered_round_slope(x.detach(), 255.0, surrogates._MIN_DITHER_SCALE)
        assert torch.isfinite(slope).all() and slope[1] > 1e4

    def test_backward_per_entry_steps(self):
        x = torch.tensor([[0.2, 0.49], [0.2, 0.49]], dtype=torch.float64, requires_grad=True)
        step = torch.tensor([[1.0, 1.0], [200.0, 200.0]], dtype=torch.float64)
        dithered_round(x, step).sum().backward()
        torch.testing.assert_close(x.grad, dithered_round_slope(x.detach(), step))
        assert x.grad[0].min() > 0.4 and x.grad[1, 0] < 1e-12 < 1.0 < x.grad[1, 1]

    def test_far_tails_times_small_gradients_stay_normal_floats(self):
        # Denormal floats make CPU products up to 100x slower (the DCT's backward product took a quarter
        # of forward+backward): the tails are floored where a gradient of 1e-12 times them stays normal.
        x = torch.linspace(0.0, 0.5, 10_001).requires_grad_()  # 0 is as far from a boundary as can be
        (dithered_round(x, torch.tensor(255.0)) * 1e-12).sum().backward()
        tiny = torch.finfo(torch.float32).tiny
        assert int(((x.grad.abs() < tiny) & (x.grad != 0)).sum()) == 0
        assert float(x.grad.min()) > 0  # the tails still keep a direction


class TestDifferentiableClip:
    @given(st.lists(st.floats(-1e4, 1e4, allow_nan=False), min_size=1, max_size=32))
    def test_identity_inside_slope_outside(self, values):
        x = torch.tensor(values, dtype=torch.float64)
        hard = x.clamp(0.0, 255.0)
        torch.testing.assert_close(differentiable_clip(x, 0.0, 255.0), hard + CLIP_SLOPE * (x - hard))

    def test_gradient_never_vanishes(self):
        x = torch.tensor([-100.0, -1.0, 0.5, 254.0, 256.0, 1e4], dtype=torch.float64, requires_grad=True)
        differentiable_clip(x, 0.0, 255.0).sum().backward()
        assert x.grad.tolist() == [CLIP_SLOPE, CLIP_SLOPE, 1.0, 1.0, CLIP_SLOPE, CLIP_SLOPE]

    @pytest.mark.parametrize("divisor", [1.0, 255.0])
    def test_compiled_mask_gives_eager_gradients_bit_for_bit(self, divisor):
        # Under torch.compile on the CPU the mask is saved as bfloat16 zeros and ones and applied by
        # arithmetic (aot_eager traces that path without generating code): the same bits as eager,
        # infinite upstream gradients included.
        x = torch.tensor([-300.0, -0.2, 0.0, 0.4, 17.5, 254.6, 255.0, 255.4, 900.0, 3.0]).requires_grad_()
        upstream = torch.tensor([1.0, -2.0, 3e-5, float("inf"), 0.5, -float("inf"), 7.0, 1e30, -1.0, 0.0])

        def clip(values: torch.Tensor) -> torch.Tensor:
            return rounded_clip(values, "polynomial", 0.0, 255.0, True, divisor)

        (eager,) = torch.autograd.grad(clip(x), x, upstream)
        compiled = torch.compile(clip, backend="aot_eager", fullgraph=True)
        (got,) = torch.autograd.grad(compiled(x), x, upstream)
        assert torch.equal(got, eager)
        assert eager.isinf().sum() == 2 and not eager.isnan().any()


class TestStraightThrough:
    @pytest.mark.parametrize("name", SMOOTH_NAMES)
    @given(values=st.lists(st.floats(-500.0, 500.0, allow_nan=False), min_size=1, max_size=32))
    def test_forward_exact_backward_surrogate(self, name, values):
        surrogate = ROUNDING_SURROGATES[name]
        x = torch.tensor(values, dtype=torch.float64, requires_grad=True)
        y = straight_through(round_half_away(x), surrogate(x))
        assert torch.equal(y, round_half_away(x.detach()))  # bit-exact forward value
        weights = torch.linspace(-1.0, 2.0, len(values), dtype=torch.float64)
        (grad,) = torch.autograd.grad((y * weights).sum(), x)
        x_ref = x.detach().clone().requires_grad_()
        (expected,) = torch.autograd.grad((surrogate(x_ref) * weights).sum(), x_ref)
        torch.testing.assert_close(grad, expected, rtol=1e-12, atol=0)

    def test_forward_value_large_magnitudes(self):
        # forward = value.detach() + (s - s.detach()): the correction term is exactly zero.
        value = torch.tensor([1e7, -3.0, 0.0, 255.0], dtype=torch.float32)
        surrogate = torch.tensor([5.5, 1e-8, -7.0, 1e6], dtype=torch.float32, requires_grad=True)
        assert torch.equal(straight_through(value, surrogate), value)

    def test_fresh_variant_matches_and_allows_in_place_use(self):
        x = torch.linspace(-3.0, 3.0, 13, dtype=torch.float64, requires_grad=True)
        weights = torch.linspace(-1.0, 2.0, 13, dtype=torch.float64)
        value = round_half_away(x.detach())
        y = straight_through_fresh(value.clone(), polynomial_round(x))
        assert torch.equal(y, value)
        (grad,) = torch.autograd.grad((y * weights).sum(), x)
        (expected,) = torch.autograd.grad((straight_through(value, polynomial_round(x)) * weights).sum(), x)
        assert torch.equal(grad, expected)
        z = straight_through_fresh(value.clone(), polynomial_round(x))
        z.mul_(2.0)  # an in-place step after the codec, as user code does
        (grad_twice,) = torch.autograd.grad((z * weights).sum(), x)
        assert torch.equal(grad_twice, 2.0 * expected)
        assert not straight_through_fresh(value, x.detach()).requires_grad


class TestFusedFunctionApply:
    """The codec's autograd functions skip torch's per-call signature binding where it changes nothing."""

    class _Scale(FusedFunction):
        generate_vmap_rule = True

        @staticmethod
        def forward(x, factor, offset=0.0):
            return x * factor + offset

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.factor = inputs[1]

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.factor, None, None

    def test_eager_fast_path_is_autograds_own_apply(self, monkeypatch):
        x = torch.rand(5, requires_grad=True)
        monkeypatch.setattr(inspect, "signature", _refuse)  # the fast path binds nothing
        y = self._Scale.apply(x, 3.0, 1.0)
        y.sum().backward()
        assert type(y.grad_fn).__name__ == "_ScaleBackward"
        assert torch.equal(y, x.detach() * 3.0 + 1.0) and torch.equal(x.grad, torch.full((5,), 3.0))

    def test_defaults_keywords_and_transforms_take_torchs_apply(self):
        x = torch.rand(3, 5)
        assert torch.equal(self._Scale.apply(x, 2.0), x * 2.0)  # a default filled in by torch's binding
        assert torch.equal(self._Scale.apply(x, 2.0, offset=1.0), x * 2.0 + 1.0)
        assert torch.equal(torch.func.vmap(lambda row: self._Scale.apply(row, 2.0, 0.0))(x), x * 2.0)
        gradient = torch.func.grad(lambda row: self._Scale.apply(row, 2.0, 0.0).sum())(x[0])
        assert torch.equal(gradient, torch.full((5,), 2.0))
        compiled = torch.compile(lambda t: self._Scale.apply(t, 2.0, 0.0).sin(), fullgraph=True, backend="aot_eager")
        leaf = x[0].clone().requires_grad_()
        compiled(leaf).sum().backward()
        torch.testing.assert_close(leaf.grad, 2.0 * torch.cos(2.0 * x[0]))


def _refuse(*args, **kwargs):
    raise AssertionError("inspect.signature called")
