"""Train a small Fashion-MNIST classifier to be robust to JPEG and to attacks made through JPEG.

Three trainings of the same small CNN from the same initialization, on grayscale 28x28 images (so
the codec runs one-component JPEG):

(a) plain: clean images;
(b) JPEG augmentation: ``RandomDiffJPEG(quality=(10, 90), mode="ste", p=0.5)`` in front of the model;
(c) adversarial training: each batch at per-sample qualities drawn uniformly from [10, 90]; PGD
    (eps 0.1 on the [0, 1] scale, 3 steps) through ``diff_jpeg(mode="ste")`` at those qualities; the
    loss is the mean of the cross-entropies of the JPEG-coded clean and adversarial images.

Each model is evaluated on the first ``--test-size`` test images: clean, after the real codec
(OpenCV) at qualities 10, 25, 50 and 90, and under PGD (eps 0.1, 10 steps, random start, seeded)
through ``diff_jpeg(mode="exact")`` at quality 50, the adversarial image then rounded to 8 bits and
coded by OpenCV at quality 50, as a JPEG pipeline in deployment would.

Data: Fashion-MNIST from the Debian package ``dataset-fashion-mnist`` (no download).

Run:   python examples/robust_training.py           (2 min on 2 quiet CPU cores; 16 min heavily loaded)
       python examples/robust_training.py --epochs 10 --train-size 60000 --test-size 10000   (longer)
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm import tqdm

from kornia_diffjpeg import RandomDiffJPEG, attacks, diff_jpeg
from testing.datasets import fashion_mnist
from testing.reference import from_uint8, opencv_jpeg, to_uint8

EPS = 0.1
TRAIN_QUALITIES = (10.0, 90.0)
TEST_QUALITIES = (10, 25, 50, 90)
ATTACK_QUALITY = 50


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def plain_loss(model: nn.Module, images: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(model(images), labels)


def augmented_loss(augmentation: nn.Module) -> Callable[[nn.Module, Tensor, Tensor], Tensor]:
    def loss(model: nn.Module, images: Tensor, labels: Tensor) -> Tensor:
        return F.cross_entropy(model(augmentation(images)), labels)

    return loss


def adversarial_loss(steps: int, generator: torch.Generator) -> Callable[[nn.Module, Tensor, Tensor], Tensor]:
    def loss(model: nn.Module, images: Tensor, labels: Tensor) -> Tensor:
        low, high = TRAIN_QUALITIES
        quality = low + (high - low) * torch.rand(images.shape[0], generator=generator)
        jpeg = functools.partial(diff_jpeg, quality=quality, mode="ste")
        model.eval()  # the attack sees the model as it will be used (no dropout/BN here, but keep the habit)
        adversarial = attacks.pgd(model, images, labels, EPS, jpeg, steps=steps, generator=generator)
        model.train()
        both = torch.cat([jpeg(images), jpeg(adversarial)])
        return F.cross_entropy(model(both), labels.repeat(2))

    return loss


def train(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Tensor, Tensor], Tensor],
    images: Tensor,
    labels: Tensor,
    epochs: int,
    batch_size: int,
    seed: int,
    name: str = "training",
) -> nn.Module:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.Generator().manual_seed(seed)
    model.train()
    steps = epochs * -(-images.shape[0] // batch_size)
    with tqdm(total=steps, desc=name, unit="batch", leave=False) as progress:
        for _ in range(epochs):
            for batch in torch.randperm(images.shape[0], generator=order).split(batch_size):
                loss = loss_fn(model, images[batch], labels[batch])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                progress.update()
                progress.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return model.eval()


def real_jpeg(images: Tensor, quality: int) -> Tensor:
    return torch.stack([from_uint8(opencv_jpeg(to_uint8(image), quality)) for image in images])


@torch.no_grad()
def accuracy(model: nn.Module, images: Tensor, labels: Tensor) -> float:
    return 100.0 * float(model(images).argmax(1).eq(labels).float().mean())


def evaluate(model: nn.Module, images: Tensor, labels: Tensor, attack_steps: int, seed: int) -> list[float]:
    row = [accuracy(model, images, labels)]
    row += [accuracy(model, real_jpeg(images, q), labels) for q in TEST_QUALITIES]
    jpeg = functools.partial(diff_jpeg, quality=float(ATTACK_QUALITY), mode="exact")
    generator = torch.Generator().manual_seed(seed)
    adversarial = torch.cat(
        [
            attacks.pgd(model, x, y, EPS, jpeg, steps=attack_steps, generator=generator)
            for x, y in zip(images.split(500), labels.split(500), strict=True)
        ]
    )
    row.append(accuracy(model, real_jpeg(adversarial, ATTACK_QUALITY), labels))
    return row


def format_rows(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [list(header)] + [[row[0]] + [f"{v:.1f}" for v in row[1:]] for row in rows]
    widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
    lines = [
        "  ".join(
            str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in cells
    ]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def main(argv: Sequence[str] | None = None) -> list[list[object]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=10000, help="first N training images (max 60000)")
    parser.add_argument("--test-size", type=int, default=1000, help="first N test images (max 10000)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-attack-steps", type=int, default=3)
    parser.add_argument("--attack-steps", type=int, default=10, help="PGD steps of the evaluation attack")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    train_images, train_labels = fashion_mnist("train", args.train_size)
    test_images, test_labels = fashion_mnist("test", args.test_size)
    generator = torch.Generator().manual_seed(args.seed + 1)
    augmentation = RandomDiffJPEG(quality=TRAIN_QUALITIES, mode="ste", p=0.5)
    recipes = {
        "(a) plain": plain_loss,
        "(b) RandomDiffJPEG": augmented_loss(augmentation),
        "(c) PGD through JPEG": adversarial_loss(args.train_attack_steps, generator),
    }
    header = ["top-1 %", "clean", *(f"JPEG q{q}" for q in TEST_QUALITIES), f"PGD+JPEG q{ATTACK_QUALITY}"]
    rows = []
    for name, loss_fn in recipes.items():
        start = time.perf_counter()
        torch.manual_seed(args.seed)  # same initialization and augmentation draws for every recipe
        model = train(small_cnn(), loss_fn, train_images, train_labels, args.epochs, args.batch_size, args.seed, name)
        trained = time.perf_counter() - start
        rows.append([name, *evaluate(model, test_images, test_labels, args.attack_steps, args.seed)])
        print(
            f"{name}: trained in {trained:.0f} s, evaluated in {time.perf_counter() - start - trained:.0f} s; "
            + ", ".join(f"{column} {value:.1f}%" for column, value in zip(header[1:], rows[-1][1:], strict=True)),
            flush=True,
        )

    print(
        f"\nFashion-MNIST, {args.train_size} training images x {args.epochs} epochs, first {args.test_size} test images"
    )
    print(f"real JPEG = OpenCV; PGD eps {EPS} ({args.attack_steps} steps) through diff_jpeg exact, then OpenCV")
    print(format_rows(header, rows))
    return rows


if __name__ == "__main__":
    main()
