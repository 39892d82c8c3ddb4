"""DiffJPEG and RandomDiffJPEG as Kornia augmentations.

Kornia-style checks (smoke, cardinality, exception messages, replay, same_on_batch, p, keepdim,
gradients), the output against ``diff_jpeg`` at the drawn qualities and against OpenCV in exact mode,
``AugmentationSequential`` with all four data keys, ``torch.compile`` and two-process DDP (gloo).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from kornia.augmentation import AugmentationSequential, RandomAffine
from torch import nn

import kornia_diffjpeg.augmentation.base as augmentation_base
from kornia_diffjpeg import DiffJPEG, RandomDiffJPEG, diff_jpeg
from kornia_diffjpeg.codec import annex_k_tables
from testing.datasets import small_crop as load_photo
from testing.reference import from_uint8, opencv_jpeg, to_uint8

MODES = ("surrogate", "ste", "exact")
SUBSAMPLINGS = ("4:2:0", "4:2:2", "4:4:4")


def _photos(batch: int = 4, channels: int = 3, height: int = 24, width: int = 32) -> torch.Tensor:
    """(B, C, H, W) crops of real photos, exactly representable in 8 bits."""
    names = ("astronaut", "chelsea", "coffee") if channels == 3 else ("camera",)
    crops = [from_uint8(load_photo(names[i % len(names)], 48, 64)) for i in range(batch)]
    return torch.stack([crop[:, 2 * i : 2 * i + height, 3 * i : 3 * i + width] for i, crop in enumerate(crops)])


def _augmentations(learnable: bool = False, **kwargs) -> dict[str, nn.Module]:
    return {
        "DiffJPEG": DiffJPEG(35.0, learnable=learnable, **kwargs),
        "RandomDiffJPEG": RandomDiffJPEG((10.0, 90.0), learnable=learnable, **kwargs),
    }


def _count_coded(monkeypatch) -> list[int]:
    """Record the batch size of every diff_jpeg call the augmentations make."""
    sizes: list[int] = []

    def counting(image, *args, **kwargs):
        sizes.append(image.shape[0])
        return diff_jpeg(image, *args, **kwargs)

    monkeypatch.setattr(augmentation_base, "diff_jpeg", counting)
    return sizes


# --------------------------------------------------------------------------------------------------
# Smoke and cardinality
# --------------------------------------------------------------------------------------------------


class TestSmoke:
    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
    @pytest.mark.parametrize("channels", (1, 3))
    def test_every_mode_layout_and_channel_count(self, mode, subsampling, channels, device):
        images = torch.rand(2, channels, 13, 19).to(device)
        for name, aug in _augmentations(mode=mode, subsampling=subsampling, p=1.0).items():
            out = aug.to(device)(images)
            assert out.device == images.device, name
            assert out.shape == images.shape and out.dtype == images.dtype, name
            expected = diff_jpeg(images, aug._params["quality"], mode=mode, subsampling=subsampling)
            torch.testing.assert_close(out, expected, rtol=0, atol=0, msg=name)

    @pytest.mark.parametrize(
        ("shape", "keepdim", "expected"),
        [
            ((2, 3, 16, 24), False, (2, 3, 16, 24)),
            ((2, 3, 16, 24), True, (2, 3, 16, 24)),
            ((3, 17, 9), False, (1, 3, 17, 9)),
            ((3, 17, 9), True, (3, 17, 9)),
            ((1, 5, 7), False, (1, 1, 5, 7)),
            ((11, 6), False, (1, 1, 11, 6)),
            ((11, 6), True, (11, 6)),
            ((1, 3, 1, 1), False, (1, 3, 1, 1)),
            ((0, 3, 8, 8), False, (0, 3, 8, 8)),
        ],
    )
    @pytest.mark.parametrize("p", (1.0, 0.5))
    def test_cardinality(self, shape, keepdim, expected, p):
        images = torch.rand(shape)
        for name, aug in _augmentations(p=p, keepdim=keepdim).items():
            assert aug(images).shape == expected, name

    @pytest.mark.parametrize("dtype", (torch.float64, torch.bfloat16))
    def test_dtype_follows_input(self, dtype):
        images = _photos(2).to(dtype)
        for name, aug in _augmentations(p=1.0).items():
            assert aug(images).dtype == dtype, name

    def test_repr_shows_the_settings(self):
        qt_y, qt_c = annex_k_tables()
        assert repr(RandomDiffJPEG((20, 60), mode="ste", subsampling="4:4:4", p=0.3, same_on_batch=True)) == (
            "RandomDiffJPEG(quality=(20.0, 60.0), mode='ste', subsampling='4:4:4', learnable=False, p=0.3, "
            "same_on_batch=True, keepdim=False)"
        )
        assert repr(DiffJPEG(30, qt_y=qt_y, qt_c=qt_c, learnable=True, keepdim=True)) == (
            "DiffJPEG(quality=30.0, tables=learnable, mode='surrogate', subsampling='4:2:0', learnable=True, p=1.0, "
            "keepdim=True)"
        )
        assert "quality=None, tables=given" in repr(DiffJPEG(None, qt_y=qt_y, qt_c=qt_c))

    def test_single_number_is_exactly_that_quality(self):
        # Kornia's RandomJPEG(20) draws from U(30, 70); ours codes at 20 and nothing else.
        aug = RandomDiffJPEG(20, p=1.0)
        aug(torch.rand(8, 3, 8, 8))
        assert torch.equal(aug._params["quality"], torch.full((8,), 20.0))
        for quality in (1, 100, torch.tensor(55.5), torch.tensor([42.0]), [42.0, 42.0]):
            low, high = RandomDiffJPEG(quality).quality_range
            assert float(low) == float(high), quality


# --------------------------------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------------------------------


class TestExceptions:
    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"quality": (70, 30)}, ValueError, r"quality range \(lo, hi\) must have lo <= hi, got \(70.0, 30.0\)"),
            ({"quality": -1}, ValueError, r"quality must be finite and in \[0, 100\], got -1"),
            ({"quality": (50, 101)}, ValueError, r"quality must be finite and in \[0, 100\], got 101"),
            ({"quality": float("nan")}, ValueError, r"quality must be finite and in \[0, 100\]"),
            ({"quality": (1, 2, 3)}, ValueError, r"quality must be a number or a \(lo, hi\) pair"),
            ({"quality": torch.ones(3) * 50}, ValueError, r"quality must be a number or a \(lo, hi\) pair"),
            ({"quality": "high"}, TypeError, r"quality must be a number or a \(lo, hi\) pair of numbers, got str"),
            ({"quality": None}, TypeError, r"quality must be a number or a \(lo, hi\) pair of numbers, got NoneType"),
            ({"quality": True}, TypeError, r"quality must be a number or a \(lo, hi\) pair of numbers, got bool"),
            ({"quality": (10, "a")}, TypeError, r"quality must be a number in \[0, 100\], got str"),
            ({"mode": "fast"}, ValueError, r"mode must be one of \['exact', 'ste', 'surrogate'\], got 'fast'"),
            ({"subsampling": "4:1:1"}, ValueError, r"subsampling must be one of .*got '4:1:1'"),
            ({"qt_y": torch.ones(4, 4)}, ValueError, r"qt_y must have shape \(8, 8\), got shape \(4, 4\)"),
            ({"qt_c": torch.ones(2, 8, 8)}, ValueError, r"qt_c must have shape \(8, 8\), got shape \(2, 8, 8\)"),
            ({"qt_c": torch.zeros(8, 8)}, ValueError, r"qt_c values must be finite and in \[1, 255\]"),
            ({"qt_y": torch.ones(8, 8, dtype=torch.bool)}, TypeError, r"qt_y must be a real-valued tensor"),
            ({"qt_y": "annex k"}, TypeError, r"qt_y must be a tensor of shape \(8, 8\), got str"),
            ({"p": 1.5}, ValueError, r"p must be in \[0, 1\], got 1.5"),
            ({"p": -0.1}, ValueError, r"p must be in \[0, 1\], got -0.1"),
            ({"p": "0.5"}, TypeError, r"p must be a number in \[0, 1\], got str"),
            ({"learnable": "yes"}, TypeError, r"learnable must be a bool, got str"),
            ({"same_on_batch": 1}, TypeError, r"same_on_batch must be a bool, got int"),
            ({"keepdim": None}, TypeError, r"keepdim must be a bool, got NoneType"),
        ],
    )
    def test_random_diff_jpeg_arguments(self, kwargs, error, match):
        kwargs = {"quality": (10, 90), **kwargs}
        with pytest.raises(error, match=match):
            RandomDiffJPEG(**kwargs)

    @pytest.mark.parametrize(
        ("args", "kwargs", "error", "match"),
        [
            ((101,), {}, ValueError, r"quality must be finite and in \[0, 100\], got 101"),
            (((20, 30),), {}, TypeError, r"quality must be a number in \[0, 100\], got tuple"),
            ((None,), {}, ValueError, r"give a quality, or qt_y \(and qt_c for RGB images\)"),
            ((50,), {"qt_y": torch.full((8, 8), 300.0)}, ValueError, r"qt_y values must be finite and in \[1, 255\]"),
            ((50,), {"p": 2}, ValueError, r"p must be in \[0, 1\], got 2"),
            ((50,), {"mode": "STE"}, ValueError, r"mode must be one of"),
        ],
    )
    def test_diff_jpeg_arguments(self, args, kwargs, error, match):
        with pytest.raises(error, match=match):
            DiffJPEG(*args, **kwargs)

    @pytest.mark.parametrize("augmentation", (DiffJPEG, RandomDiffJPEG))
    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"quality": 10**400}, ValueError, r"quality must be finite and in \[0, 100\]"),  # was OverflowError
            ({"p": 10**400}, ValueError, r"p must be in \[0, 1\]"),  # was OverflowError
            ({"qt_y": [[10**400] * 8] * 8}, TypeError, r"qt_y must be a tensor of shape \(8, 8\)"),  # OverflowError
            ({"quality": torch.tensor(50.0, device="meta")}, ValueError, "quality is on the meta device"),
            (
                {"quality": torch.tensor(50.0).to(torch.float8_e4m3fn)},
                TypeError,
                "quality must be a real-valued tensor",
            ),
        ],
    )
    def test_settings_out_of_float_range_on_meta_or_in_float8(self, augmentation, kwargs, error, match):
        """Huge ints, settings without values (meta) or of float8: errors naming the setting, not OverflowError,
        RuntimeError from item() or a quality silently rounded to float8 (50 -> 48)."""
        with pytest.raises(error, match=match):
            augmentation(**{"quality": 50.0, **kwargs})

    def test_range_on_the_meta_device_is_named(self):
        with pytest.raises(ValueError, match="quality is on the meta device"):
            RandomDiffJPEG(torch.tensor([20.0, 40.0], device="meta"))  # was NotImplementedError

    def test_missing_chroma_table_for_rgb_names_it(self):
        aug = DiffJPEG(None, qt_y=torch.full((8, 8), 10.0))
        assert aug(torch.rand(1, 1, 8, 8)).shape == (1, 1, 8, 8)  # grayscale needs no chroma table
        with pytest.raises(ValueError, match="qt_c"):
            aug(torch.rand(1, 3, 8, 8))

    def test_integer_images_are_rejected(self):
        with pytest.raises(TypeError):
            RandomDiffJPEG((10, 90))(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


# --------------------------------------------------------------------------------------------------
# Parameters: replay, seeds, same_on_batch, p
# --------------------------------------------------------------------------------------------------


class TestParameters:
    @pytest.mark.parametrize("learnable", (False, True))
    @pytest.mark.parametrize("p", (1.0, 0.5))
    def test_replay_is_exact(self, learnable, p):
        torch.manual_seed(3)
        images = _photos(6)
        qt_y, qt_c = annex_k_tables()
        augs = {**_augmentations(learnable, p=p), "tables": RandomDiffJPEG((5, 95), qt_y=qt_y, qt_c=qt_c, p=p)}
        for name, aug in augs.items():
            out = aug(images)
            params = {key: value.clone() for key, value in aug._params.items()}
            aug(torch.rand_like(images))  # a different draw in between
            torch.testing.assert_close(aug(images, params=params), out, rtol=0, atol=0, msg=name)

    @pytest.mark.parametrize("p", (1.0, 0.5))
    @pytest.mark.parametrize(
        ("edit", "error", "match"),
        [
            (lambda params: {}, ValueError, "params must hold 'quality_u'"),  # was KeyError
            (lambda params: {**params, "quality_u": [0.5] * 4}, TypeError, r"params\['quality_u'\] must be a float"),
            (lambda params: {**params, "quality_u": torch.zeros(4, dtype=torch.long)}, TypeError, "quality_u"),
            (lambda params: {**params, "quality_u": torch.rand(4, 1)}, ValueError, r"must have shape \(4,\)"),
            (lambda params: {**params, "quality_u": torch.rand(2)}, ValueError, r"must have shape \(4,\)"),
            (lambda params: {**params, "quality_u": torch.rand(4, device="meta")}, ValueError, "meta device"),
        ],
    )
    def test_replayed_draws_are_checked(self, p, edit, error, match):
        """Draws that are missing, not float, of another batch or without values: errors naming them, not
        KeyError, AttributeError, NotImplementedError from lerp or an IndexError from the gate."""
        aug = RandomDiffJPEG((20, 60), p=p)
        images = torch.rand(4, 3, 8, 8)
        aug(images)
        with pytest.raises(error, match=match):
            aug(images, params=edit(dict(aug._params)))

    @pytest.mark.parametrize("augmentation", (DiffJPEG, RandomDiffJPEG))
    @pytest.mark.parametrize("batch", (2, 6))
    def test_replayed_gate_of_another_batch_is_refused(self, augmentation, batch):
        """A gate of 4 samples replayed on 2 (IndexError before) or on 6 (the last two were silently left
        uncoded): one gate per sample."""
        aug = augmentation(50.0, p=0.5)
        aug(torch.rand(4, 3, 8, 8))
        params = {key: value for key, value in aug._params.items() if key != "quality_u"}
        params["quality_u"] = torch.rand(batch)
        with pytest.raises(ValueError, match=rf"params\['batch_prob'\] must have shape \({batch},\)"):
            aug(torch.rand(batch, 3, 8, 8), params=params)
        with pytest.raises(TypeError, match=r"params\['batch_prob'\] must be a tensor"):
            aug(torch.rand(4, 3, 8, 8), params={**aug._params, "batch_prob": [1.0] * 4})

    def test_one_replayed_draw_codes_every_sample_at_its_quality(self):
        """One draw (a 0-d or (1,) tensor) is the draw of every sample, whatever p (an IndexError with p < 1)."""
        images = torch.rand(4, 3, 8, 8)
        aug = RandomDiffJPEG((20, 60), p=0.5)
        selected = torch.tensor([0, 2, 3])
        expected = images.index_copy(0, selected, diff_jpeg(images[selected], 40.0))
        for draw in (torch.tensor(0.5), torch.tensor([0.5])):
            out = aug(images, params={"quality_u": draw, "batch_prob": torch.tensor([1.0, 0.0, 1.0, 1.0])})
            torch.testing.assert_close(out, expected, rtol=0, atol=0)

    def test_meta_module_and_input_with_a_gate(self):
        """A module moved to meta draws its gate on meta: the selected samples cannot be read (NotImplementedError
        from nonzero before); the result's shape is what meta gives."""
        for augmentation in (DiffJPEG(50.0, p=0.5), RandomDiffJPEG((20, 60), p=0.5)):
            out = augmentation.to("meta")(torch.rand(4, 3, 8, 8, device="meta"))
            assert out.shape == (4, 3, 8, 8) and out.is_meta

    def test_seeds_reproduce_the_draws(self):
        images = torch.rand(16, 3, 8, 8)

        def draw(seed):
            torch.manual_seed(seed)
            aug = RandomDiffJPEG((1, 100), p=0.5)
            out = aug(images)
            return out, aug._params["quality"], aug._params["batch_prob"]

        first, again, other = draw(0), draw(0), draw(1)
        for a, b in zip(first, again, strict=True):
            assert torch.equal(a, b)
        assert not torch.equal(first[1], other[1])

    def test_qualities_are_uniform_on_the_range(self):
        torch.manual_seed(0)
        aug = RandomDiffJPEG((20, 60), p=1.0)
        qualities = aug.forward_parameters((4000, 3, 8, 8))["quality"]
        assert 20 <= float(qualities.min()) and float(qualities.max()) <= 60
        assert abs(float(qualities.mean()) - 40) < 0.5  # standard error 0.18
        assert abs(float(qualities.std()) - 40 / 12**0.5) < 0.5

    @pytest.mark.parametrize("learnable", (False, True))
    def test_qualities_never_leave_the_range(self, learnable):
        # q = lo + (hi - lo) * u must not round past hi: the codec rejects a quality above 100.
        u = torch.tensor([0.0, 0.5 - 2**-25, 0.5, 1.0 - 2**-24])
        for low, high in ((33.3, 100.0), (1.0, 1.0), (100.0, 100.0), (70.3, 100.0), (1.0, 2.0)):
            aug = RandomDiffJPEG((low, high), p=1.0, learnable=learnable)
            bounds = [float(bound.detach().float()) for bound in aug.quality_range]  # u is float32
            quality = aug.qualities(u).detach()
            assert bounds[0] <= float(quality.min()) and float(quality.max()) <= bounds[1] <= 100, (low, high)
            assert aug(torch.rand(4, 3, 8, 8), params={"quality_u": u}).shape == (4, 3, 8, 8)

    @pytest.mark.parametrize("p", (1.0, 0.5))
    def test_same_on_batch(self, p):
        torch.manual_seed(1)
        aug = RandomDiffJPEG((1, 100), p=p, same_on_batch=True)
        for _ in range(5):
            aug(torch.rand(6, 3, 8, 8))
            quality, gate = aug._params["quality"], aug._params["batch_prob"]
            assert torch.all(quality == quality[0]) and torch.all(gate == gate[0])
        aug = RandomDiffJPEG((1, 100), p=1.0, same_on_batch=False)
        aug(torch.rand(6, 3, 8, 8))
        assert len(set(aug._params["quality"].tolist())) == 6

    def test_p_zero_codes_nothing(self, monkeypatch):
        coded = _count_coded(monkeypatch)
        images = torch.rand(4, 3, 16, 16, requires_grad=True)
        for name, aug in {**_augmentations(p=0.0), **_augmentations(True, p=0.0)}.items():
            out = aug(images)
            assert torch.equal(out, images), name
        assert coded == []

    def test_p_one_codes_every_sample(self, monkeypatch):
        coded = _count_coded(monkeypatch)
        images = _photos(4)
        for name, aug in _augmentations(p=1.0).items():
            out = aug(images)
            assert all(not torch.equal(out[i], images[i]) for i in range(4)), name
        assert coded == [4, 4]

    @pytest.mark.parametrize("learnable", (False, True))
    def test_p_half_codes_only_the_selected_samples(self, monkeypatch, learnable):
        coded = _count_coded(monkeypatch)
        torch.manual_seed(2)
        images = _photos(8).requires_grad_()
        for name, aug in _augmentations(learnable, p=0.5).items():
            coded.clear()
            out = aug(images)
            selected = aug._params["batch_prob"] > 0.5
            assert 0 < int(selected.sum()) < 8, name  # this seed mixes both kinds
            assert coded == [int(selected.sum())], name  # one call, on the selected samples only
            assert torch.equal(out[~selected], images[~selected]), name
            expected = diff_jpeg(images[selected], aug._params["quality"][selected])
            torch.testing.assert_close(out[selected], expected, rtol=0, atol=0, msg=name)
            (grad,) = torch.autograd.grad(out.sum(), images)
            assert torch.equal(grad[~selected], torch.ones_like(grad[~selected])), name  # identity


# --------------------------------------------------------------------------------------------------
# Output: diff_jpeg at the drawn qualities, OpenCV in exact mode
# --------------------------------------------------------------------------------------------------


class TestOutput:
    @pytest.mark.parametrize("mode", MODES)
    def test_equals_diff_jpeg_at_the_drawn_qualities(self, mode):
        torch.manual_seed(4)
        images = _photos(4)
        base_y, base_c = annex_k_tables()
        qt_y, qt_c = base_y.flip(0), base_c.flip(1)  # any base tables: scaled by each sample's quality
        for tables in ({}, {"qt_y": qt_y, "qt_c": qt_c}):
            aug = RandomDiffJPEG((5, 95), mode=mode, p=1.0, **tables)
            out = aug(images)
            quality = aug._params["quality"]
            assert len(set(quality.tolist())) == 4
            torch.testing.assert_close(out, diff_jpeg(images, quality, mode=mode, **tables), rtol=0, atol=0)

    def test_tables_as_given(self):
        images = _photos(2)
        qt_y, qt_c = torch.full((8, 8), 7.0), torch.full((8, 8), 31.0)
        out = DiffJPEG(None, qt_y=qt_y, qt_c=qt_c, mode="exact")(images)
        torch.testing.assert_close(out, diff_jpeg(images, qt_y=qt_y, qt_c=qt_c, mode="exact"), rtol=0, atol=0)

    @pytest.mark.parametrize("subsampling", SUBSAMPLINGS)
    def test_exact_mode_equals_opencv_at_the_drawn_integer_quality(self, subsampling, device):
        torch.manual_seed(5)
        images = torch.cat([_photos(3), _photos(1, channels=1).expand(1, 3, -1, -1)])  # a gray RGB image too
        aug = RandomDiffJPEG((1, 100), mode="exact", subsampling=subsampling, p=1.0).to(device)
        out = aug(images.to(device)).cpu()
        for image, coded, quality in zip(images, out, aug._params["quality"], strict=True):
            integer = int(np.floor(float(quality) + 0.5))  # exact mode rounds qualities, halves up
            np.testing.assert_array_equal(to_uint8(coded), opencv_jpeg(to_uint8(image), integer, subsampling))

    def test_exact_mode_grayscale_equals_opencv(self):
        images = _photos(2, channels=1)
        aug = DiffJPEG(23.0, mode="exact")
        for image, coded in zip(images, aug(images), strict=True):
            np.testing.assert_array_equal(to_uint8(coded), opencv_jpeg(to_uint8(image), 23))


# --------------------------------------------------------------------------------------------------
# Learnable settings: reparameterization and gradients
# --------------------------------------------------------------------------------------------------


def _finite_nonzero(grad: torch.Tensor | None, name: str) -> None:
    assert grad is not None, f"{name}: no gradient"
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0, f"{name}: {grad}"


class TestLearnable:
    @torch.no_grad()
    def test_initial_values(self):
        aug = RandomDiffJPEG((20, 70), learnable=True)
        low, high = (float(bound.detach()) for bound in aug.quality_range)
        assert abs(low - 20) < 1e-3 and abs(high - 70) < 1e-3
        assert abs(float(DiffJPEG(37.5, learnable=True).quality) - 37.5) < 1e-3
        qt_y, qt_c = annex_k_tables()
        tables = DiffJPEG(None, qt_y=qt_y, qt_c=qt_c, learnable=True).tables
        torch.testing.assert_close(tables[0], qt_y, rtol=0, atol=1e-3)
        torch.testing.assert_close(tables[1], qt_c, rtol=0, atol=1e-3)
        # Values on a bound start just inside it.
        low, high = RandomDiffJPEG(100, learnable=True).quality_range
        assert 99.999 < float(low) <= float(high) <= 100

    @torch.no_grad()
    def test_settings_stay_in_bounds_wherever_the_optimizer_moves_them(self):
        qt_y, qt_c = annex_k_tables()
        random = RandomDiffJPEG((20, 70), qt_y=qt_y, qt_c=qt_c, learnable=True)
        fixed = DiffJPEG(50, learnable=True)
        generator = torch.Generator().manual_seed(0)
        for scale in (1.0, 10.0, 1000.0):
            for parameter in (*random.parameters(), *fixed.parameters()):
                parameter.copy_(scale * torch.randn(parameter.shape, generator=generator))
            low, high = random.quality_range
            assert 1 <= float(low) <= float(high) <= 100
            assert 1 <= float(fixed.quality) <= 100
            for table in random.tables:
                assert 1 <= float(table.min()) and float(table.max()) <= 255
            random(torch.rand(3, 3, 8, 8))  # the codec accepts them

    @pytest.mark.parametrize("mode", MODES)
    def test_gradients_reach_every_learnable_setting_and_the_image(self, mode, device):
        torch.manual_seed(6)
        images = _photos(4).to(device).requires_grad_()
        qt_y, qt_c = (table.to(device) for table in annex_k_tables())
        augs = {
            "DiffJPEG quality": DiffJPEG(35.0, mode=mode, learnable=True),
            "DiffJPEG quality at 1": DiffJPEG(1.0, mode=mode, learnable=True),
            "DiffJPEG quality at 100": DiffJPEG(100.0, mode=mode, learnable=True),
            "DiffJPEG tables": DiffJPEG(None, qt_y=qt_y, qt_c=qt_c, mode=mode, learnable=True),
            "RandomDiffJPEG range": RandomDiffJPEG((10.0, 90.0), mode=mode, p=1.0, learnable=True),
            "RandomDiffJPEG range and base tables": RandomDiffJPEG(
                (10.0, 90.0), qt_y=qt_y, qt_c=qt_c, mode=mode, p=1.0, learnable=True
            ),
        }
        for name, aug in augs.items():
            images.grad = None
            F.mse_loss(aug.to(device)(images), images).backward()
            _finite_nonzero(images.grad, f"{name}: image")
            for parameter_name, parameter in aug.named_parameters():
                _finite_nonzero(parameter.grad, f"{name}: {parameter_name}")

    def test_quality_gradient_points_toward_less_distortion(self):
        # Higher quality codes real photos more faithfully: descending the coding error raises
        # the quality, and both ends of a learnable range.
        images = _photos(4)
        aug = DiffJPEG(30.0, learnable=True)
        F.mse_loss(aug(images), images).backward()
        assert float(aug.quality_logit.grad) < 0
        torch.manual_seed(7)
        aug = RandomDiffJPEG((20.0, 40.0), p=1.0, learnable=True)
        F.mse_loss(aug(images), images).backward()
        low_grad, width_grad = float(aug.low_logit.grad), float(aug.width_logit.grad)
        assert low_grad < 0 and width_grad < 0, (low_grad, width_grad)

    def test_draw_is_reparameterized(self):
        # q = lo + (hi - lo) * u: d q / d lo = 1 - u and d q / d hi = u for every sample.
        torch.manual_seed(8)
        aug = RandomDiffJPEG((30.0, 60.0), p=1.0, learnable=True)
        params = aug.forward_parameters((5, 3, 8, 8))
        u, logits = params["quality_u"], (aug.low_logit, aug.width_logit)
        quality = aug.qualities(u)
        torch.testing.assert_close(quality.detach(), params["quality"], rtol=0, atol=0)
        low, high = aug.quality_range
        d_low, d_high = (
            torch.stack(torch.autograd.grad(bound, logits, retain_graph=True, materialize_grads=True))
            for bound in (low, high)
        )
        for q, u_i in zip(quality, u, strict=True):
            d_quality = torch.stack(torch.autograd.grad(q, logits, retain_graph=True))
            torch.testing.assert_close(d_quality, (1 - u_i) * d_low + u_i * d_high)


# --------------------------------------------------------------------------------------------------
# Containers, compile, DDP
# --------------------------------------------------------------------------------------------------


class TestIntegration:
    def test_augmentation_sequential_with_all_data_keys_and_inverse(self):
        images = _photos(2)
        masks = (torch.rand(2, 1, 24, 32) > 0.5).float()
        boxes = torch.tensor([[[2.0, 3.0, 20.0, 15.0]], [[5.0, 1.0, 30.0, 22.0]]])
        keypoints = torch.tensor([[[4.0, 5.0], [12.0, 9.0]], [[20.0, 11.0], [7.0, 3.0]]])
        keys = ["input", "mask", "bbox_xyxy", "keypoints"]
        ours = RandomDiffJPEG((10.0, 50.0), p=1.0)
        pipeline = AugmentationSequential(RandomAffine(20.0, translate=(0.1, 0.1), p=1.0), ours, data_keys=keys)
        geometric_only = AugmentationSequential(RandomAffine(20.0, translate=(0.1, 0.1), p=1.0), data_keys=keys)
        torch.manual_seed(9)
        out = pipeline(images, masks, boxes, keypoints)
        torch.manual_seed(9)  # the affine draws first, so both pipelines move the data the same way
        reference = geometric_only(images, masks, boxes, keypoints)
        for name, ours_out, ref_out in zip(keys[1:], out[1:], reference[1:], strict=True):
            assert torch.equal(ours_out, ref_out), name  # masks, boxes and keypoints: only the affine moved them
        torch.testing.assert_close(out[0], diff_jpeg(reference[0], ours._params["quality"]), rtol=0, atol=0)
        inverted = pipeline.inverse(*out)
        inverted_reference = geometric_only.inverse(*reference)
        for name, ours_inv, ref_inv in zip(keys[1:], inverted[1:], inverted_reference[1:], strict=True):
            assert torch.equal(ours_inv, ref_inv), name
        assert inverted[0].shape == images.shape

    def test_augmentation_sequential_leaves_labels_untouched(self):
        keys = ["input", "mask", "bbox_xyxy", "keypoints"]
        masks, boxes = torch.rand(3, 1, 16, 16), torch.tensor([[[1.0, 2.0, 9.0, 8.0]]]).repeat(3, 1, 1)
        keypoints = torch.rand(3, 4, 2) * 16
        for name, aug in _augmentations(p=0.5).items():
            out = AugmentationSequential(aug, data_keys=keys)(torch.rand(3, 3, 16, 16), masks, boxes, keypoints)
            for key, value, given in zip(keys[1:], out[1:], (masks, boxes, keypoints), strict=True):
                assert torch.equal(value, given), (name, key)

    @pytest.mark.slow
    def test_compile_a_model_containing_the_augmentation(self):
        # backend="aot_eager": dynamo traces the whole model in one graph (fullgraph=True) and AOT
        # autograd builds its backward, in ~10 s on one core; Inductor's code generation takes
        # minutes on CPU. p=1 keeps the graph whole (p < 1 gathers the selected samples, a
        # data-dependent shape: a graph break, fine without fullgraph).
        torch._dynamo.reset()

        def model():
            torch.manual_seed(10)
            return nn.Sequential(RandomDiffJPEG((20.0, 80.0), p=1.0, learnable=True), nn.Conv2d(3, 4, 3))

        eager, compiled = model(), model()
        compiled_forward = torch.compile(compiled, backend="aot_eager", fullgraph=True)
        images = _photos(2, height=16, width=24)
        for step in range(2):
            torch.manual_seed(100 + step)
            expected = eager(images).square().mean()
            torch.manual_seed(100 + step)
            loss = compiled_forward(images).square().mean()
            torch.testing.assert_close(loss, expected)
            expected.backward()
            loss.backward()
        torch.testing.assert_close(compiled[0]._params["quality"], eager[0]._params["quality"])
        for (name, a), (_, b) in zip(eager.named_parameters(), compiled.named_parameters(), strict=True):
            _finite_nonzero(b.grad, name)
            torch.testing.assert_close(b.grad, a.grad, msg=name)

    @pytest.mark.slow
    def test_ddp_two_processes_keep_learnable_parameters_identical(self, tmp_path):
        torch.multiprocessing.spawn(_ddp_worker, args=(2, str(tmp_path)), nprocs=2, join=True)
        initial, *ranks = (torch.load(tmp_path / f"{name}.pt") for name in ("initial", "rank0", "rank1"))
        assert ranks[0]["qualities"].ne(ranks[1]["qualities"]).any()  # different draws ...
        for name, value in ranks[0]["parameters"].items():
            assert torch.equal(value, ranks[1]["parameters"][name]), name  # ... identical parameters
        moved = [name for name, value in initial.items() if not torch.equal(value, ranks[0]["parameters"][name])]
        assert {"0.low_logit", "0.width_logit", "0.qt_y_logit", "0.qt_c_logit"} <= set(moved)


def _ddp_worker(rank: int, world_size: int, directory: str) -> None:
    """One DDP rank: a few optimizer steps on its own data with its own draws (gloo, CPU)."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    # A file rendezvous: no port to pick (a free port probed first can be taken before the ranks bind it).
    dist.init_process_group("gloo", init_method=f"file://{directory}/rendezvous", rank=rank, world_size=world_size)
    try:
        torch.manual_seed(0)  # the same initial model on both ranks (DDP also broadcasts rank 0's)
        qt_y, qt_c = annex_k_tables()
        model = nn.Sequential(
            RandomDiffJPEG((20.0, 60.0), qt_y=qt_y, qt_c=qt_c, p=1.0, learnable=True), nn.Conv2d(3, 3, 1)
        )
        if rank == 0:
            torch.save({k: v.detach().clone() for k, v in model.named_parameters()}, f"{directory}/initial.pt")
        ddp = nn.parallel.DistributedDataParallel(model)
        optimizer = torch.optim.Adam(ddp.parameters(), lr=0.05)
        torch.manual_seed(1 + rank)  # different data and draws per rank
        qualities = []
        for _ in range(3):
            images = torch.rand(2, 3, 16, 16)
            optimizer.zero_grad()
            loss = F.mse_loss(ddp(images), images)
            loss.backward()
            optimizer.step()
            qualities.append(model[0]._params["quality"])
        parameters = {k: v.detach().clone() for k, v in model.named_parameters()}
        torch.save({"parameters": parameters, "qualities": torch.cat(qualities)}, f"{directory}/rank{rank}.pt")
        # Without it a rank can tear gloo down while its peer still talks to it: SIGABRT at exit.
        dist.barrier()
    finally:
        dist.destroy_process_group()


# --------------------------------------------------------------------------------------------------
# Hostile inputs: bytes ranges, keyword overrides, gates, modules on the meta device
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("quality", [b"2Z", bytearray(b"2Z")])
def test_bytes_are_not_a_quality_range(quality):
    """Bytes are a sequence of ints: b"2Z" was silently taken as the range (50, 90)."""
    with pytest.raises(TypeError, match=r"quality must be a number or a \(lo, hi\) pair of numbers, got byte"):
        RandomDiffJPEG(quality)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"quality_u": torch.full((4,), 5.0)}, ValueError, r"params\['quality_u'\] must be finite and in \[0, 1\]"),
        ({"quality_u": torch.full((4,), -5.0)}, ValueError, r"params\['quality_u'\] must be finite and in \[0, 1\]"),
        ({"quality_u": "low"}, TypeError, r"params\['quality_u'\] must be a floating-point tensor"),
        ({"batch_prob": torch.ones(3)}, ValueError, r"params\['batch_prob'\] must have shape \(4,\)"),
        ({"batch_prob": torch.ones(4, dtype=torch.complex64)}, TypeError, r"params\['batch_prob'\] must be a dense"),
    ],
)
def test_keyword_overrides_of_the_draws_are_checked(kwargs, error, match):
    """Kornia writes forward's keyword arguments over the parameters: they were used unchecked (IndexError,
    AttributeError, NotImplementedError, or draws of -5 silently coded at quality 1)."""
    aug, images = RandomDiffJPEG((20, 60), p=0.5), torch.rand(4, 3, 8, 8)
    with pytest.raises(error, match=match):
        aug(images, **kwargs)
    aug(images)
    with pytest.raises(error, match=match):  # over a replay too
        aug(images, params=dict(aug._params), **kwargs)


def test_valid_keyword_override_of_the_draws_codes_at_their_qualities():
    images = torch.rand(4, 3, 8, 8)
    out = RandomDiffJPEG((20, 60), p=1.0)(images, quality_u=torch.full((4,), 0.5))
    torch.testing.assert_close(out, diff_jpeg(images, 40.0), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("gate", "error", "match"),
    [
        (torch.ones(4, dtype=torch.complex64), TypeError, r"params\['batch_prob'\] must be a dense bool, integer"),
        (torch.tensor([1.0, 0.0, float("nan"), 1.0]), ValueError, r"params\['batch_prob'\] must be finite"),
        (torch.tensor([1.0, 0.0, 2.0, 1.0]), ValueError, r"params\['batch_prob'\] must be finite and in \[0, 1\]"),
    ],
)
def test_replayed_gates_must_be_gates(gate, error, match):
    """A complex gate raised NotImplementedError from torch; a NaN gate silently left its sample uncoded."""
    aug, images = RandomDiffJPEG((20, 60), p=0.5), torch.rand(4, 3, 8, 8)
    aug(images)
    with pytest.raises(error, match=match):
        aug(images, params={**aug._params, "batch_prob": gate})


def test_bool_and_integer_gates_select_like_float_gates():
    aug, images = RandomDiffJPEG((20, 60), p=0.5), torch.rand(4, 3, 8, 8)
    aug(images)
    gate = torch.tensor([1.0, 0.0, 0.0, 1.0])
    expected = aug(images, params={**aug._params, "batch_prob": gate})
    for other in (gate.bool(), gate.long(), gate.to(torch.uint8)):
        torch.testing.assert_close(aug(images, params={**aug._params, "batch_prob": other}), expected, rtol=0, atol=0)


def _meta_built() -> nn.Module:
    with torch.device("meta"):  # learnable settings on meta, the random draws on the CPU
        return RandomDiffJPEG((20, 60), p=0.0, learnable=True)


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: DiffJPEG(50.0, learnable=True).to("meta"), "DiffJPEG"),  # was NotImplementedError
        (lambda: DiffJPEG(50.0, p=0.0).to("meta"), "DiffJPEG"),  # was NotImplementedError in Kornia
        (lambda: RandomDiffJPEG((20, 60), p=1.0).to("meta"), "RandomDiffJPEG"),  # was NotImplementedError
        (_meta_built, "low_logit"),  # nothing selected: silently returned the input
    ],
)
def test_module_on_the_meta_device_with_an_input_with_data_is_named(make, name):
    with pytest.raises(ValueError, match=rf"{name} is on the meta device but the input is on cpu: move the module"):
        make()(torch.rand(2, 3, 8, 8))


@pytest.mark.parametrize("aug", [DiffJPEG(50.0, p=1.0), RandomDiffJPEG((10.0, 90.0), p=1.0)], ids=["fixed", "random"])
@pytest.mark.parametrize("keyword", ["quality", "qt_y", "qt_c", "color", "rounding"])
def test_keywords_the_augmentation_does_not_read_are_refused(aug, keyword):
    # Kornia stored them unread: aug(x, quality=5.0) was coded at the module's quality, silently.
    with pytest.raises(TypeError, match=f"does not read the keyword arguments \\['{keyword}'\\]"):
        aug(torch.rand(2, 3, 16, 16), **{keyword: torch.tensor([5.0, 5.0])})


def test_keywords_kornia_reads_are_taken():
    x = torch.rand(2, 3, 16, 16)
    aug = DiffJPEG(50.0, p=1.0)
    assert torch.equal(aug(x, mode="exact"), diff_jpeg(x, 50.0, mode="exact"))  # a flag override
    coded = RandomDiffJPEG((10.0, 90.0), p=1.0)(x, quality_u=torch.zeros(2), save_kwargs=True)
    assert torch.equal(coded, diff_jpeg(x, 10.0))  # a draw override: the range's low end
