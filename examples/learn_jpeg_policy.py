"""Learn a JPEG augmentation policy by backprop: the quality range that spans a target distortion band.

A robustness-training recipe wants JPEG augmentations that are neither too weak to matter nor so
strong that the images stop being useful: say the strongest coding should leave 27 dB PSNR and the
weakest 35 dB. Which qualities do that depends on the photos. Here the range ``(lo, hi)`` of
``RandomDiffJPEG(learnable=True)`` is learned by gradient descent through the differentiable codec.
Each sample's quality is ``q = lo + (hi - lo) * u``; training replays the augmentation with its
draws ``u`` set to 0 (the strongest coding, quality lo) and 1 (the weakest, quality hi) through
``policy(images, params=...)``, and the loss asks the mean PSNR of the training crops to be the
target at each end. The gradient reaches lo and hi through that reparameterized draw, the same path
as in ordinary random use.

Training uses random 64x64 crops of scikit-image photos and the ``"ste"`` mode, whose forward pass
rounds like the real codec (the smooth ``"surrogate"`` mode rounds softly and so distorts a little
less than real JPEG: a range learned with it codes real JPEG 0.5-1 dB below the targets). The
script prints lo and hi as they move, then checks the learned range with the real codec
(libjpeg-turbo through OpenCV) on held-out crops: the mean PSNR at ``round(lo)`` and ``round(hi)``
must land within 1 dB of the targets. It exits with status 1 if not. It also trains once more with
``quality_gradient="surrogate"`` (the smooth face's analytic quality gradient, the behaviour before
0.2) and with the default, at SGD step sizes 0.05, 0.1 and 0.2, and prints how many steps each needs
to bring both ends within 0.25 dB of the targets on the training crops (``>12``: not within the 12).

Run:   python examples/learn_jpeg_policy.py            (about 2 min of CPU time)
       python examples/learn_jpeg_policy.py --low-db 30 --high-db 38
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from kornia_diffjpeg import RandomDiffJPEG
from testing.datasets import COLOR_PHOTOS, photo_crops
from testing.metrics import psnr
from testing.reference import opencv_jpeg, to_uint8

TOLERANCE_DB = 1.0
COMPARED_LRS = (0.05, 0.1, 0.2)


def opencv_psnr(crops: torch.Tensor, quality: int) -> float:
    """Mean PSNR (dB) of the crops coded by OpenCV at an integer quality."""
    values = []
    for crop in crops:
        array = to_uint8(crop)
        coded = opencv_jpeg(array, quality).astype(np.float64) / 255.0
        values.append(float(psnr(coded, array / 255.0)))
    return float(np.mean(values))


def train(
    train: torch.Tensor, args: argparse.Namespace, quality_gradient: str, verbose: bool
) -> tuple[float, float, int | None]:
    """Learn (lo, hi) with the given quality-gradient estimator; returns lo, hi and the steps needed.

    The steps needed: the first step after which both ends' mean training PSNR stay within
    ``--within`` dB of their targets (None if that never happens within ``--steps``).
    """
    torch.manual_seed(args.seed)
    # A neutral start; the targets decide where the range goes.
    policy = RandomDiffJPEG((40.0, 60.0), mode="ste", p=1.0, learnable=True, quality_gradient=quality_gradient)
    optimizer = torch.optim.SGD(policy.parameters(), lr=args.lr)
    ends = torch.tensor([0.0, 1.0]).repeat_interleave(args.crops)  # u of the strongest and the weakest coding
    targets = torch.tensor([args.low_db, args.high_db])
    images = train.repeat(2, 1, 1, 1)  # every training crop at both ends
    needed: int | None = None
    if verbose:
        print(f"{'step':>5} {'lo':>7} {'hi':>7} {'PSNR at lo':>11} {'PSNR at hi':>11}")
    for step in range(args.steps + 1):
        coded = policy(images, params={"quality_u": ends})  # the draw u given, not drawn
        achieved = psnr(coded, images).view(2, -1).mean(dim=1)  # (at lo, at hi)
        low, high = (float(bound.detach()) for bound in policy.quality_range)
        at_low, at_high = achieved.detach().tolist()
        if verbose:
            print(f"{step:>5} {low:>7.2f} {high:>7.2f} {at_low:>11.2f} {at_high:>11.2f}")
        close = bool(((achieved.detach() - targets).abs() <= args.within).all())
        needed = (step if needed is None else needed) if close else None
        if step < args.steps:
            optimizer.zero_grad()
            (achieved - targets).square().sum().backward()
            optimizer.step()
    low, high = (float(bound.detach()) for bound in policy.quality_range)
    return low, high, needed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--low-db", type=float, default=27.0, help="PSNR target of the range's low end")
    parser.add_argument("--high-db", type=float, default=35.0, help="PSNR target of the range's high end")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--crops", type=int, default=64, help="training crops (and as many held-out crops)")
    parser.add_argument("--lr", type=float, default=0.1, help="SGD step on the logits of lo and hi")
    parser.add_argument("--within", type=float, default=0.25, help="dB from the targets that counts as reached")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    train_crops = photo_crops(COLOR_PHOTOS, count=args.crops, size=64, scale=2, seed=args.seed)
    held_out = photo_crops(COLOR_PHOTOS, count=args.crops, size=64, scale=2, seed=args.seed + 1)
    print(f"target: mean PSNR {args.low_db} dB at quality lo, {args.high_db} dB at quality hi\n")
    low, high, needed = train(train_crops, args, "finite_difference", verbose=True)
    print(f"\nsteps to bring both ends within {args.within} dB of the targets (training crops), per SGD step size:")
    print(f"{'quality gradient':<34} " + " ".join(f"{f'lr {lr:g}':>9}" for lr in COMPARED_LRS))
    for name, option in (
        ("finite_difference (default)", "finite_difference"),
        ("surrogate (analytic, before 0.2)", "surrogate"),
    ):
        counts = [
            train(train_crops, argparse.Namespace(**{**vars(args), "lr": lr}), option, verbose=False)[2]
            for lr in COMPARED_LRS
        ]
        print(f"{name:<34} " + " ".join(f"{'>' + str(args.steps) if c is None else str(c):>9}" for c in counts))
    print(f"\nlearned policy: RandomDiffJPEG(quality=({low:.1f}, {high:.1f}))")
    print("check with the real codec (OpenCV) on held-out crops:")
    ok = True
    for name, quality, target in (("lo", round(low), args.low_db), ("hi", round(high), args.high_db)):
        measured = opencv_psnr(held_out, quality)
        hit = abs(measured - target) <= TOLERANCE_DB
        ok &= hit
        print(
            f"  {name}: quality {quality:>3}: {measured:.2f} dB, target {target:.1f} +- {TOLERANCE_DB} dB: "
            f"{'ok' if hit else 'MISSED'}"
        )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
