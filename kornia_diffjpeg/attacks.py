"""Adversarial attacks through JPEG: FGSM, iterative FGSM and PGD with a differentiable codec in the loop.

Each attack perturbs images in [0, 1] within an L-infinity ball of radius ``eps`` so that
``model(jpeg(image))`` misclassifies them, where ``jpeg`` is any differentiable image -> image callable:
``functools.partial(diff_jpeg, quality=q, mode="ste")``, a :class:`~kornia_diffjpeg.DiffJPEG` module,
``kornia.enhance.jpeg_codec_differentiable`` wrapped the same way, or ``None`` for no JPEG. Per-sample
qualities come with the callable (a (B,) quality tensor).

Scale of ``eps``: the images' [0, 1] scale. The attack literature often states budgets on the 0..255
scale ("eps = 3"); that is ``eps = 3 / 255`` here.

The model is used as it is: the attacks never call ``model.eval()`` or ``model.train()``, so put it in
the mode you want attacked (usually ``eval()``, so that batch normalization uses its running statistics).
Gradients are taken w.r.t. the images only (``torch.autograd.grad``): the model's ``.grad`` fields are
left untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from kornia_diffjpeg._checks import ValueChecks, check_image, check_number

__all__ = ["fgsm", "ifgsm", "pgd"]

ImageMap = Callable[[Tensor], Tensor]

#: Most steps an attack takes (a Python int too large for a float would overflow ``eps / steps``).
_MAX_STEPS = 1 << 30


def _check_inputs(model: Any, images: Any, labels: Any, eps: Any, jpeg: Any) -> int | None:
    """Check the arguments; return the largest label (None when there is none or validation is off), which
    the model's logits are checked against at the first step."""
    if not callable(model):
        raise TypeError(f"model must be callable (an nn.Module or function), got {type(model).__name__}")
    checks = ValueChecks()  # the images' and labels' values, read once
    batched = check_image(images, checks, name="images")
    if images.ndim != 4:
        raise ValueError(f"images must have shape (B, C, H, W), got shape {tuple(images.shape)}")
    if not isinstance(labels, Tensor) or labels.dtype != torch.int64:
        got = labels.dtype if isinstance(labels, Tensor) else type(labels).__name__
        raise TypeError(f"labels must be an int64 tensor of class indices, got {got}")
    if labels.shape != (batched.shape[0],):
        raise ValueError(f"labels must have shape ({batched.shape[0]},), got shape {tuple(labels.shape)}")
    if labels.device != images.device:
        raise ValueError(f"labels are on {labels.device} but images are on {images.device}")
    # Compared as given (also rejects NaN): float() of a huge int overflows.
    if isinstance(eps, bool) or not isinstance(eps, Real) or not 0 <= eps <= 1:  # type: ignore[operator]
        raise ValueError(f"eps must be a number in [0, 1] (the [0, 1] image scale; 3/255 for '3'), got {eps!r}")
    if jpeg is not None and not callable(jpeg):
        raise TypeError(f"jpeg must be a callable image -> image or None, got {type(jpeg).__name__}")
    largest: list[int] = []
    if labels.numel() > 0:
        checks.add(torch.stack(torch.aminmax(labels)), lambda extremes: largest.append(_check_labels(*extremes)))
    checks.run()
    return largest[0] if largest else None


def _check_labels(smallest: float, largest: float) -> int:
    if smallest < 0:
        raise ValueError(f"labels must be class indices >= 0, got {int(smallest)}")
    return int(largest)


def _check_coded(coded: Any) -> None:
    """What ``jpeg`` returns must be a tensor of images (the model takes them; any shape the model takes)."""
    if not isinstance(coded, Tensor):
        raise TypeError(f"jpeg must return a tensor of images, got {type(coded).__name__}")
    if coded.is_inference():  # autograd cannot record the model on it (a RuntimeError deep in the model)
        raise ValueError("jpeg must return images autograd can differentiate, got an inference tensor (inference_mode)")


def _check_logits(logits: Any, batch: int, largest_label: int | None) -> None:
    """The model's output must be (B, classes) floating-point logits with a class for every label, that
    depend differentiably on the images."""
    if not isinstance(logits, Tensor) or logits.ndim != 2 or logits.shape[0] != batch:
        got = f"shape {tuple(logits.shape)}" if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"model must return ({batch}, classes) logits for the images, got {got}")
    if not logits.is_floating_point():
        raise TypeError(f"model must return floating-point logits, got dtype {logits.dtype}")
    if not logits.requires_grad:
        raise ValueError(
            "model must return logits that depend differentiably on the images (the attacks follow their "
            "gradient), got logits that do not require grad"
        )
    if largest_label is not None and largest_label >= logits.shape[1]:
        raise ValueError(f"labels must be class indices < {logits.shape[1]} (the model's classes), got {largest_label}")


def _check_steps(steps: Any, step_size: Any) -> int:
    # NumPy ints are ints; a huge one is refused before ``eps / steps`` overflows.
    if isinstance(steps, bool) or not isinstance(steps, Integral) or not 1 <= steps <= _MAX_STEPS:  # type: ignore[operator]
        raise ValueError(f"steps must be an int in [1, {_MAX_STEPS}], got {steps!r}")
    if step_size is not None:
        size = check_number("step_size", step_size, 0.0)  # finite
        if size <= 0:
            raise ValueError(f"step_size must be a positive number or None, got {step_size!r}")
    return int(steps)


def _loss_gradient(
    model: ImageMap, images: Tensor, labels: Tensor, jpeg: ImageMap | None, largest_label: int | None = None
) -> Tensor:
    """Gradient w.r.t. the images of the summed cross-entropy (summed: each sample's gradient is its own).

    Taken with autograd on whatever the caller's mode (``torch.no_grad()``, ``torch.inference_mode()``);
    images and labels made in inference mode are copied to normal tensors first (autograd cannot use them).
    """
    with torch.inference_mode(False), torch.enable_grad():
        images = images.detach()
        images = (images.clone() if images.is_inference() else images).requires_grad_(True)
        labels = labels.clone() if labels.is_inference() else labels
        coded = images
        if jpeg is not None:
            coded = jpeg(images)
            _check_coded(coded)
        logits = model(coded)
        _check_logits(logits, labels.shape[0], largest_label)  # shapes and one int: no host sync
        loss = F.cross_entropy(logits, labels, reduction="sum")
        (gradient,) = torch.autograd.grad(loss, images, allow_unused=True)
    if gradient is None:
        culprit = "model" if jpeg is None else "model(jpeg(images))"
        raise ValueError(f"{culprit} must depend differentiably on the images (the attacks follow its gradient)")
    return gradient


def _project(images: Tensor, originals: Tensor, eps: float) -> Tensor:
    """Into the eps-ball around the originals, then into [0, 1] (both box constraints: the result is in both)."""
    return torch.min(torch.max(images, originals - eps), originals + eps).clamp_(0.0, 1.0)


def _sign_steps(
    model: ImageMap,
    start: Tensor,
    images: Tensor,
    labels: Tensor,
    eps: float,
    jpeg: ImageMap | None,
    steps: int,
    size: float,
    largest_label: int | None,
) -> Tensor:
    adversarial = start
    # sign(NaN) is 0: a NaN gradient (NaN logits, a jpeg whose backward gives NaN) would silently skip its step.
    # The steps with one are counted on the device and read once, after the last step.
    checks = ValueChecks()
    nan_steps = None
    for _ in range(steps):
        gradient = _loss_gradient(model, adversarial, labels, jpeg, largest_label)
        if checks.active:
            with torch.no_grad():
                has_nan = torch.isnan(gradient).any()
            nan_steps = has_nan.long() if nan_steps is None else nan_steps + has_nan
        adversarial = _project(adversarial + size * gradient.sign(), images, eps)
    if nan_steps is not None:
        culprit = "model" if jpeg is None else "model(jpeg(images))"

        def report(values: list[float]) -> None:
            if values[0] > 0:
                raise ValueError(
                    f"{culprit} must have a loss gradient w.r.t. the images without NaN (the attacks follow its sign), "
                    f"got NaN in {int(values[0])} of {steps} steps: check the model's logits and jpeg's backward"
                )

        checks.add(nan_steps.reshape(1), report)
        checks.run()
    return adversarial.detach()


def fgsm(model: ImageMap, images: Tensor, labels: Tensor, eps: float, jpeg: ImageMap | None = None) -> Tensor:
    """Fast gradient sign method through JPEG: one step of size ``eps`` along the loss gradient's sign.

    Args:
        model: classifier mapping (B, C, H, W) images to (B, classes) logits; used in its current mode.
        images: (B, C, H, W) float images in [0, 1].
        labels: (B,) int64 true classes (the attack increases their cross-entropy).
        eps: L-infinity budget on the [0, 1] scale (``3 / 255`` is "3" on the 0..255 scale).
        jpeg: differentiable image -> image callable applied before the model, or ``None``.

    Returns:
        The adversarial images, detached, within ``eps`` of ``images`` and in [0, 1].

    Example:
        >>> import functools
        >>> from kornia_diffjpeg import diff_jpeg
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 10))
        >>> images, labels = torch.rand(2, 3, 16, 16), torch.tensor([3, 7])
        >>> jpeg = functools.partial(diff_jpeg, quality=torch.tensor([10.0, 50.0]), mode="ste")
        >>> adversarial = fgsm(model, images, labels, eps=3 / 255, jpeg=jpeg)
        >>> bool((adversarial - images).abs().max() <= 3 / 255 + 1e-6)
        True
    """
    largest_label = _check_inputs(model, images, labels, eps, jpeg)
    return _sign_steps(model, images, images, labels, float(eps), jpeg, 1, float(eps), largest_label)


def ifgsm(
    model: ImageMap,
    images: Tensor,
    labels: Tensor,
    eps: float,
    jpeg: ImageMap | None = None,
    *,
    steps: int = 10,
) -> Tensor:
    """Iterative FGSM through JPEG: ``steps`` sign steps of ``eps / steps``, each projected to the ball and [0, 1].

    Args:
        model: classifier mapping (B, C, H, W) images to (B, classes) logits; used in its current mode.
        images: (B, C, H, W) float images in [0, 1].
        labels: (B,) int64 true classes.
        eps: L-infinity budget on the [0, 1] scale.
        jpeg: differentiable image -> image callable applied before the model, or ``None``.
        steps: number of steps.

    Returns:
        The adversarial images, detached, within ``eps`` of ``images`` and in [0, 1].

    Example:
        >>> from kornia_diffjpeg import DiffJPEG
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 10))
        >>> images, labels = torch.rand(2, 3, 16, 16), torch.tensor([3, 7])
        >>> adversarial = ifgsm(model, images, labels, eps=3 / 255, jpeg=DiffJPEG(quality=25.0), steps=3)
        >>> adversarial.shape
        torch.Size([2, 3, 16, 16])
    """
    largest_label = _check_inputs(model, images, labels, eps, jpeg)
    steps = _check_steps(steps, None)
    return _sign_steps(model, images, images, labels, float(eps), jpeg, steps, float(eps) / steps, largest_label)


def pgd(
    model: ImageMap,
    images: Tensor,
    labels: Tensor,
    eps: float,
    jpeg: ImageMap | None = None,
    *,
    steps: int = 10,
    step_size: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Projected gradient descent (Madry et al.) through JPEG: a uniform random start in the ball, then sign steps.

    Args:
        model: classifier mapping (B, C, H, W) images to (B, classes) logits; used in its current mode.
        images: (B, C, H, W) float images in [0, 1].
        labels: (B,) int64 true classes.
        eps: L-infinity budget on the [0, 1] scale.
        jpeg: differentiable image -> image callable applied before the model, or ``None``.
        steps: number of steps.
        step_size: size of each sign step on the [0, 1] scale (default ``2.5 * eps / steps``).
        generator: random generator of the start (on the images' device), for reproducible attacks;
            ``None`` uses torch's global generator.

    Returns:
        The adversarial images, detached, within ``eps`` of ``images`` and in [0, 1].

    Example:
        >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1 * 16 * 16, 10))
        >>> images, labels = torch.rand(2, 1, 16, 16), torch.tensor([3, 7])
        >>> first = pgd(model, images, labels, eps=0.03, steps=2, generator=torch.Generator().manual_seed(0))
        >>> again = pgd(model, images, labels, eps=0.03, steps=2, generator=torch.Generator().manual_seed(0))
        >>> bool(torch.equal(first, again))
        True
    """
    largest_label = _check_inputs(model, images, labels, eps, jpeg)
    steps = _check_steps(steps, step_size)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
    if generator is not None and not images.is_meta and generator.device.type != images.device.type:
        raise ValueError(f"generator is on {generator.device} but images are on {images.device}")
    eps = float(eps)
    size = 2.5 * eps / steps if step_size is None else float(step_size)
    noise = torch.rand(images.shape, generator=generator, device=images.device, dtype=images.dtype)
    start = _project(images + eps * (2.0 * noise - 1.0), images, eps)
    return _sign_steps(model, start, images, labels, eps, jpeg, steps, size, largest_label)
