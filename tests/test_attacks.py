"""Tests of the attacks through JPEG: loss increase, projections, gradients per mode, determinism, inputs."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kornia_diffjpeg import MODES, DiffJPEG, attacks, diff_jpeg
from testing.datasets import small_crop as load_photo
from testing.reference import from_uint8, opencv_jpeg, to_uint8

ATTACKS = {
    "fgsm": attacks.fgsm,
    "ifgsm": functools.partial(attacks.ifgsm, steps=3),
    "pgd": functools.partial(attacks.pgd, steps=3, generator=torch.Generator().manual_seed(0)),
}


def tiny_model(channels: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(channels, 6, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(96, 5)
    )
    return model.eval()


def photos(channels: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    names = ("astronaut", "chelsea", "coffee") if channels == 3 else ("camera",)
    images = torch.stack([from_uint8(load_photo(name, 32, 32)) for name in names])
    return images, torch.arange(len(names)) % 5


def loss(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float(F.cross_entropy(model(images), labels))


@pytest.mark.parametrize("name", ATTACKS)
@pytest.mark.parametrize("mode", [None, *MODES])
def test_attacks_increase_the_loss(name, mode):
    model, (images, labels) = tiny_model(), photos()
    jpeg = None if mode is None else functools.partial(diff_jpeg, quality=torch.tensor([20.0, 50.0, 90.0]), mode=mode)
    coded = (lambda x: x) if jpeg is None else jpeg
    adversarial = ATTACKS[name](model, images, labels, 8 / 255, jpeg)
    assert loss(model, coded(adversarial), labels) > loss(model, coded(images), labels)


@pytest.mark.parametrize("mode", ["ste", "exact"])
def test_attack_through_jpeg_transfers_to_the_real_codec(mode):
    """Adversarial images made through the differentiable codec raise the loss after OpenCV's JPEG."""
    model, (images, labels) = tiny_model(), photos()
    quality = 75
    adversarial = attacks.ifgsm(
        model, images, labels, 8 / 255, functools.partial(diff_jpeg, quality=quality, mode=mode)
    )

    def real(batch: torch.Tensor) -> torch.Tensor:
        return torch.stack([from_uint8(opencv_jpeg(to_uint8(image), quality)) for image in batch])

    assert loss(model, real(adversarial), labels) > loss(model, real(images), labels)


@pytest.mark.parametrize("name", ATTACKS)
@pytest.mark.parametrize("eps", [0.0, 1 / 255, 0.05, 0.5])
def test_projection_keeps_the_ball_and_the_range(name, eps):
    model = tiny_model()
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    images[:, :, :4] = 0.0  # saturated pixels: the range constraint binds
    images[:, :, -4:] = 1.0
    labels = torch.tensor([0, 1, 2, 3])
    attack = functools.partial(attacks.pgd, steps=3, step_size=0.2) if name == "pgd" else ATTACKS[name]
    adversarial = attack(model, images, labels, eps)
    assert (adversarial - images).abs().max() <= eps + 1e-6
    assert adversarial.min() >= 0.0 and adversarial.max() <= 1.0
    assert adversarial.shape == images.shape and adversarial.dtype == images.dtype and not adversarial.requires_grad


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("mode", MODES)
def test_gradients_flow_through_every_mode(mode, channels):
    model, (images, labels) = tiny_model(channels), photos(channels)
    quality = torch.linspace(5.0, 95.0, images.shape[0])
    jpeg = functools.partial(diff_jpeg, quality=quality, mode=mode)
    leaf = images.clone().requires_grad_(True)
    F.cross_entropy(model(jpeg(leaf)), labels).backward()
    assert torch.isfinite(leaf.grad).all() and (leaf.grad.flatten(1).abs().sum(1) > 0).all()
    adversarial = attacks.ifgsm(model, images, labels, 4 / 255, jpeg, steps=2)
    assert ((adversarial - images).flatten(1).abs().amax(1) > 0).all()


def test_kornia_codec_and_diffjpeg_module_as_the_jpeg():
    kornia = pytest.importorskip("kornia")
    model, (images, labels) = tiny_model(), photos()
    quality = torch.tensor([10.0, 40.0, 80.0])
    for jpeg in (lambda x: kornia.enhance.jpeg_codec_differentiable(x, quality), DiffJPEG(quality=30.0)):
        adversarial = attacks.fgsm(model, images, labels, 4 / 255, jpeg)
        assert loss(model, jpeg(adversarial), labels) > loss(model, jpeg(images), labels)


def test_per_sample_qualities_attack_each_sample_independently():
    """A batch with per-sample qualities gives what attacking each sample alone at its quality gives."""
    model, (images, labels) = tiny_model(), photos()
    quality = torch.tensor([5.0, 40.0, 85.0])
    batched = attacks.ifgsm(model, images, labels, 4 / 255, functools.partial(diff_jpeg, quality=quality), steps=3)
    for index in range(images.shape[0]):
        jpeg = functools.partial(diff_jpeg, quality=quality[index : index + 1])
        alone = attacks.ifgsm(model, images[index : index + 1], labels[index : index + 1], 4 / 255, jpeg, steps=3)
        torch.testing.assert_close(batched[index : index + 1], alone, atol=1e-6, rtol=0)


def test_determinism_and_seeds():
    model, (images, labels) = tiny_model(), photos()

    def run(seed: int) -> torch.Tensor:
        return attacks.pgd(model, images, labels, 0.03, steps=2, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))
    assert torch.equal(attacks.ifgsm(model, images, labels, 0.03), attacks.ifgsm(model, images, labels, 0.03))


@pytest.mark.parametrize("name", ATTACKS)
def test_same_attack_under_no_grad_inference_mode_and_layouts(name):
    """An evaluation loop's contexts and tensors: the attack is the one of plain contiguous tensors."""
    model, (images, labels) = tiny_model(), photos()
    jpeg = functools.partial(diff_jpeg, quality=50.0, mode="ste")

    def run(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        kwargs = {"generator": torch.Generator().manual_seed(0)} if name == "pgd" else {}
        return ATTACKS[name](model, x, y, 0.03, jpeg, **kwargs)

    expected = run(images, labels)
    with torch.no_grad():
        assert torch.equal(run(images, labels), expected)
    with torch.inference_mode():  # images and labels are inference tensors here
        assert torch.equal(run(images.clone(), labels.clone()), expected)
        inference_images, inference_labels = images.clone(), labels.clone()
    assert torch.equal(run(inference_images, inference_labels), expected)
    assert torch.equal(run(images.contiguous(memory_format=torch.channels_last), labels), expected)
    assert torch.equal(run(images.transpose(-1, -2).contiguous().transpose(-1, -2), labels), expected)


def test_numpy_integer_steps():
    """steps from NumPy (np.arange, a config array) are ints: the attack of the Python int (they were refused)."""
    model, (images, labels) = tiny_model(), photos()
    assert torch.equal(
        attacks.ifgsm(model, images, labels, 0.03, steps=np.int64(2)),
        attacks.ifgsm(model, images, labels, 0.03, steps=2),
    )
    first = attacks.pgd(model, images, labels, 0.03, steps=np.int32(2), generator=torch.Generator().manual_seed(0))
    again = attacks.pgd(model, images, labels, 0.03, steps=2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, again)


def test_model_mode_and_parameters_are_left_alone():
    model, (images, labels) = tiny_model(), photos()
    model.train()
    attacks.pgd(model, images, labels, 0.03, steps=2)
    assert model.training
    assert all(parameter.grad is None for parameter in model.parameters())
    with torch.no_grad():  # works inside no_grad (evaluation loops)
        adversarial = attacks.fgsm(model, images, labels, 0.03)
    assert not torch.equal(adversarial, images)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "not a model"}, TypeError, "model"),
        ({"images": torch.rand(3, 16, 16)}, ValueError, "images"),
        ({"images": torch.randint(0, 255, (1, 3, 16, 16), dtype=torch.uint8)}, TypeError, "image"),
        ({"labels": torch.tensor([0.0])}, TypeError, "labels"),
        ({"labels": [0]}, TypeError, "labels"),
        ({"labels": torch.tensor([0, 1])}, ValueError, "labels"),
        ({"eps": 3}, ValueError, "eps"),
        ({"eps": -0.1}, ValueError, "eps"),
        ({"eps": True}, ValueError, "eps"),
        ({"jpeg": 75}, TypeError, "jpeg"),
        ({"steps": 0}, ValueError, "steps"),
        ({"steps": 2.0}, ValueError, "steps"),
        ({"step_size": 0.0}, ValueError, "step_size"),
        ({"generator": 0}, TypeError, "generator"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, error, match):
    arguments = {"model": tiny_model(), "images": torch.rand(1, 3, 16, 16), "labels": torch.tensor([0]), "eps": 0.01}
    arguments.update(kwargs)
    with pytest.raises(error, match=match):
        attacks.pgd(**arguments)


@pytest.mark.slow
def test_gradients_benchmark_smoke(tmp_path, monkeypatch, capsys):
    """benchmarks/gradients.py end to end (--quick): direction, bounds, recovery, one attack, the plot."""
    pytest.importorskip("efficientnet_lite_pytorch")
    benchmarks = Path(__file__).resolve().parents[1] / "benchmarks"
    monkeypatch.syspath_prepend(str(benchmarks))
    common = pytest.importorskip("_common")
    gradients = pytest.importorskip("gradients")
    monkeypatch.setattr(common, "THREADS", torch.get_num_threads())  # keep the suite's single thread
    attacked = "ours surrogate;kornia 0.9"
    arguments = ["--quick", "--sections", "12346", "--attacks", "ifgsm", "--attack-codecs", attacked]
    tables = gradients.main([*arguments, "--results-dir", str(tmp_path)])
    assert set(tables) == {"direction", "bounds", "recovery", "attacks"}
    for name in gradients.CODECS:
        assert name in tables["direction"] and name in tables["bounds"]
    assert "real codec (OpenCV), finite difference +-3" in tables["direction"]
    assert all(name in tables["recovery"] for name in gradients.RECOVERY_CODECS)
    assert "no attack" in tables["attacks"] and "kornia 0.9" in tables["attacks"]
    assert (tmp_path / "gradients_quality.png").stat().st_size > 0
    assert "Quality recovery" in capsys.readouterr().out


def _flat_logits(images: torch.Tensor) -> torch.Tensor:
    return images.flatten(1)[:, :5]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"eps": 10**400}, ValueError, "eps"),  # float(eps) overflowed
        ({"steps": 10**400}, ValueError, "steps"),  # eps / steps overflowed
        ({"model": lambda x: _flat_logits(x).long()}, TypeError, "model must return floating-point logits"),
        ({"model": lambda x: _flat_logits(x) > 0.5}, TypeError, "model must return floating-point logits"),
        ({"model": lambda x: _flat_logits(x).detach()}, ValueError, "model must return logits that depend"),
        ({"jpeg": lambda x: x.detach()}, ValueError, r"model\(jpeg\(images\)\) must depend differentiably"),
        ({"jpeg": lambda x: x.detach().numpy()}, TypeError, "jpeg must return a tensor"),
    ],
)
def test_bad_values_and_model_outputs_name_the_argument(kwargs, error, match):
    """Huge ints, non-float or non-differentiable logits, a jpeg that returns no tensor: errors naming them,
    not OverflowError, NotImplementedError or RuntimeError from torch."""
    arguments = {"model": tiny_model(), "images": torch.rand(1, 3, 16, 16), "labels": torch.tensor([0]), "eps": 0.01}
    arguments.update({"steps": 2, **kwargs})
    with pytest.raises(error, match=match):
        attacks.ifgsm(**arguments)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a second device type")
def test_generator_on_another_device_is_named():
    images, labels = torch.rand(1, 3, 16, 16, device="cuda"), torch.tensor([0], device="cuda")
    with pytest.raises(ValueError, match="generator is on cpu but images are on cuda"):
        attacks.pgd(tiny_model().cuda(), images, labels, 0.01, steps=1, generator=torch.Generator())


@pytest.mark.parametrize("name", ATTACKS)
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model": lambda x: tiny_model()(x) * float("nan")}, r"model must have a loss gradient w\.r\.t\. the images"),
        ({"model": lambda x: tiny_model()(x) * float("inf")}, r"model must have a loss gradient w\.r\.t\. the images"),
        ({"jpeg": lambda x: x * float("nan")}, r"model\(jpeg\(images\)\) must have a loss gradient .* without NaN"),
    ],
)
def test_nan_gradients_are_reported(name, kwargs, match):
    """sign(NaN) is 0: NaN logits or a jpeg whose gradient is NaN silently returned the images unperturbed."""
    images, labels = photos()
    with pytest.raises(ValueError, match=match):
        ATTACKS[name](**{"model": tiny_model(), "images": images, "labels": labels, "eps": 8 / 255, **kwargs})


def test_nan_gradient_at_a_later_step_is_counted():
    calls = []

    def jpeg(x):
        calls.append(None)
        return x * float("nan") if len(calls) == 2 else x

    images, labels = photos()
    with pytest.raises(ValueError, match="got NaN in 1 of 3 steps"):
        attacks.ifgsm(tiny_model(), images, labels, 8 / 255, jpeg, steps=3)


def test_logits_of_minus_infinity_for_other_classes_still_attack():
    """A masked class (-inf logit) gives a finite gradient: not refused."""
    images, labels = photos()
    model = tiny_model()
    mask = torch.arange(5) == 4

    def masked(x):
        return model(x).masked_fill(mask, float("-inf"))

    adversarial = attacks.pgd(masked, images, labels, 8 / 255, steps=2, generator=torch.Generator().manual_seed(0))
    assert loss(masked, adversarial, labels) > loss(masked, images, labels)


def test_jpeg_returning_an_inference_tensor_is_named():
    """Was a RuntimeError from deep inside the model (inference tensors cannot be saved for backward)."""

    def jpeg(x):
        with torch.inference_mode():
            return x.clone()

    images, labels = photos()
    with pytest.raises(ValueError, match="jpeg must return images autograd can differentiate"):
        attacks.fgsm(tiny_model(), images, labels, 8 / 255, jpeg)
