"""The offline data and the pretrained classifier the examples and benchmarks rely on."""

from __future__ import annotations

import pytest
import torch

from testing.datasets import FASHION_MNIST_DIR, fashion_mnist, imagenet_photos, photo, photo_crops
from testing.pretrained import efficientnet_lite0


def test_photo_crops_shape_range_and_seed():
    crops = photo_crops(("astronaut", "coffee"), count=3, size=40, scale=2, seed=1)
    assert crops.shape == (3, 3, 40, 40)
    assert 0.0 <= crops.min() and crops.max() <= 1.0
    assert torch.equal(crops, photo_crops(("astronaut", "coffee"), count=3, size=40, scale=2, seed=1))
    assert not torch.equal(crops, photo_crops(("astronaut", "coffee"), count=3, size=40, scale=2, seed=2))


def test_photo_errors_name_the_argument():
    with pytest.raises(ValueError, match="name"):
        photo("not_a_photo")
    with pytest.raises(ValueError, match="size"):
        photo_crops(("coffee",), count=1, size=5000)


@pytest.mark.slow
def test_efficientnet_classifies_the_labelled_imagenet_photos():
    images, labels = imagenet_photos(size=224)
    assert images.shape == (20, 3, 224, 224) and labels.shape == (20,)
    classifier = efficientnet_lite0()
    with torch.no_grad():
        predictions = classifier(images).argmax(-1)
    # About 85% top-1 is the model's reported accuracy on such a sample; 16 of 20 leaves room for it.
    assert (predictions == labels).sum() >= 16
    assert not any(parameter.requires_grad for parameter in classifier.parameters())


def test_imagenet_views_keep_the_labels_and_start_with_the_whole_photos():
    whole, labels = imagenet_photos(size=32)
    views, view_labels = imagenet_photos(size=32, views=6)
    assert views.shape == (120, 3, 32, 32) and view_labels.shape == (120,)
    assert torch.equal(views[::6], whole) and torch.equal(view_labels[::6], labels)
    assert torch.equal(view_labels.view(20, 6), labels[:, None].expand(20, 6))
    assert not torch.equal(views[1::6], whole)  # the crops are other views of the photos
    for bad in (0, 7, 2.0, True):
        with pytest.raises(ValueError, match="views"):
            imagenet_photos(size=32, views=bad)


def test_classifier_passes_gradients_to_the_image_and_resizes():
    classifier = efficientnet_lite0()
    image = torch.rand(1, 3, 64, 80, requires_grad=True)
    classifier(image).logsumexp(-1).sum().backward()
    assert image.grad is not None and image.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="RGB"):
        classifier(torch.rand(1, 1, 32, 32))


@pytest.mark.skipif(not FASHION_MNIST_DIR.exists(), reason="Debian package dataset-fashion-mnist not installed")
def test_fashion_mnist():
    images, labels = fashion_mnist("test", limit=50)
    assert images.shape == (50, 1, 28, 28) and labels.shape == (50,)
    assert labels.min() >= 0 and labels.max() <= 9
    with pytest.raises(ValueError, match="split"):
        fashion_mnist("valid")
