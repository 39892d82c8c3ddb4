"""Train the learned JPEG file-size regressor on real photo crops at CPU scale and report held-out error.

Crops of three scikit-image photos (hubble_deep_field, immunohistochemistry, stereo_motorcycle) at
random qualities 1-99 or random tables in [1, 255] are labelled with the exact byte count
(``jpeg_file_size``, no encoder call). The regressor is scored on crops of photos it never saw
(astronaut, chelsea, coffee, rocket) before training (its linear rate prior alone) and after. The
default budget takes about a minute on 2 cores; use ``--steps`` for longer. The trained weights go
to ``benchmarks/results/filesize_regressor.pt``, where ``benchmarks/filesize.py`` reads them.

    python examples/train_filesize_regressor.py [--steps 300] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from skimage import data

from examples.filesize_training import file_size_batch, mean_absolute_relative_error, train_file_size_regressor
from kornia_diffjpeg.filesize.regressor import JPEGFileSizeRegressor
from testing.reference import from_uint8

TRAIN_PHOTOS = ("hubble_deep_field", "immunohistochemistry", "stereo_motorcycle")
HELD_OUT_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
CHECKPOINT = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "filesize_regressor.pt"


def load(names: tuple[str, ...]) -> list[torch.Tensor]:
    """skimage photos as (3, H, W) float tensors (the left view of the stereo pair)."""
    photos = []
    for name in names:
        array = getattr(data, name)()
        photos.append(from_uint8(array[0] if name == "stereo_motorcycle" else array))
    return photos


@torch.no_grad()
def held_out_mare(model: JPEGFileSizeRegressor, batches: int = 8, size: int = 128, seed: int = 1) -> float:
    """MARE on random crops of the held-out photos (qualities 1-99 and random tables, 4:2:0)."""
    generator = torch.Generator().manual_seed(seed)
    photos = load(HELD_OUT_PHOTOS)
    errors = []
    for _ in range(batches):
        batch = file_size_batch(photos, 8, (size, size), generator)
        errors.append(mean_absolute_relative_error(model(batch.encode()), batch.sizes))
    return sum(errors) / len(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=300, help="training steps (batches of 8 crops)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = JPEGFileSizeRegressor()
    prior_mare = held_out_mare(model)  # untrained, the head's factor is 1: the linear rate prior alone
    print(f"held-out MARE of the rate prior alone: {100 * prior_mare:.1f}%")
    start = time.perf_counter()
    train_file_size_regressor(model, load(TRAIN_PHOTOS), args.steps, lr=3e-3, log_every=max(args.steps // 10, 1))
    print(f"trained {args.steps} steps in {time.perf_counter() - start:.0f} s")
    mare = held_out_mare(model)
    print(f"held-out MARE after training: {100 * mare:.1f}% (published regressor: 2.5-6%)")
    args.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    state = {"state_dict": model.state_dict(), "steps": args.steps, "held_out_mare": mare, "prior_mare": prior_mare}
    torch.save(state, args.checkpoint)
    print(f"weights: {args.checkpoint}")


if __name__ == "__main__":
    main()
