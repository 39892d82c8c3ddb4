"""Codec control vs standard JPEG at 10 target file sizes, on held-out crops, with the real encoder.

Three encoders of the same held-out crops (``examples/train_codec_control.py``: ``chelsea`` crops and
ten foolbox ImageNet photos, none seen in training), all written by Pillow:

* control: the trained :class:`CodecControl`'s integer tables (``encode_with_control``);
* control fit: the same tables scaled per image by the one factor that makes the file the largest
  that fits the target (``encode_with_control(..., fit_size=True)``, sized with the exact counter);
* binary search: standard JPEG at the largest integer quality whose file fits the target, found by
  binary search over 1..100 per image (quality 1 when none fits);
* single quality: standard JPEG at one quality for all images, the largest whose mean file size over
  the crops fits the target.

Reported per target: file-size MARE to the target and the fraction of files over it, and the top-1
agreement of EfficientNet-Lite0 (run at the crop size, as in training) on the decoded image with
its prediction on the uncompressed crop. Targets are log-spaced over the working range stored with
the control. Against the binary search, each control encoder also gets a paired count over all
crop-target pairs (only one of the two keeps the prediction) and an exact two-sided sign test.
Writes ``control.png`` into ``benchmarks/results``.

Run: ``python benchmarks/control.py`` (needs ``benchmarks/results/codec_control.pt``; ``--train MIN``
trains a short one first).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from _common import RESULTS_DIR, format_table, make_parser, setup  # noqa: E402
from train_codec_control import CHECKPOINT, heldout_crops, load, save, train  # noqa: E402

from kornia_diffjpeg.control import encode_with_control  # noqa: E402
from testing.pretrained import efficientnet_lite0  # noqa: E402
from testing.reference import decode, from_uint8, pillow_encode, to_uint8  # noqa: E402

TARGETS = 10
METHODS = ("control", "control fit", "binary search", "single quality")


def binary_search_quality(array: np.ndarray, target: float, sizes: dict[int, int]) -> int:
    """Largest quality in 1..100 whose file fits ``target`` (1 when none does); ``sizes`` caches encodes."""

    def size(quality: int) -> int:
        if quality not in sizes:
            sizes[quality] = len(pillow_encode(array, quality))
        return sizes[quality]

    low, high = 1, 100
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if size(middle) <= target else (low, middle - 1)
    return low


def single_quality(arrays: list[np.ndarray], target: float, mean_sizes: dict[int, float]) -> int:
    """Largest quality whose mean file size over ``arrays`` fits ``target`` (1 when none does)."""
    for quality in range(100, 0, -1):
        if quality not in mean_sizes:
            mean_sizes[quality] = float(np.mean([len(pillow_encode(a, quality)) for a in arrays]))
        if mean_sizes[quality] <= target:
            return quality
    return 1


def discordant(ours: np.ndarray, baseline: np.ndarray) -> tuple[int, int]:
    """Counts of (crop, target) pairs where only one of two encoders keeps the model's prediction."""
    return int((ours & ~baseline).sum()), int((baseline & ~ours).sum())


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test on the discordant pairs (McNemar's exact test)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


@torch.no_grad()
def top1(model: torch.nn.Module, files: list[bytes]) -> torch.Tensor:
    images = torch.stack([from_uint8(decode(data, "pillow")) for data in files])
    return torch.cat([model(part).argmax(1) for part in images.split(32)])


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument(
        "--train", type=float, default=None, metavar="MIN", help="train a control for MIN minutes first"
    )
    parser.add_argument("--crops", type=int, default=70, help="held-out crops (default 70)")
    parser.add_argument("--checkpoint", type=Path, default=CHECKPOINT, help="trained control (default: %(default)s)")
    args = parser.parse_args()
    device = setup(args.device)
    if args.train is not None:
        save(*train(minutes=args.train, device=str(device)), args.checkpoint)
    control, record = load(args.checkpoint, str(device))
    crop = record["crop"]
    images = heldout_crops(24 if args.quick else args.crops, crop)
    arrays = [to_uint8(image) for image in images]
    model = efficientnet_lite0(frozen=True).to(device)
    model.size = crop
    with torch.no_grad():  # pseudo labels: the prediction on the uncompressed crops
        reference = torch.cat([model(part.to(device)).argmax(1) for part in images.split(32)]).cpu()
    low, high = record["size_range"]
    targets = np.geomspace(low, high, 5 if args.quick else TARGETS)
    trained = f"{record['steps']} steps ({record['seconds'] / 60:.1f} min)"
    print(f"{len(images)} held-out crops {crop}px; control trained {trained}", flush=True)

    cache: list[dict[int, int]] = [{} for _ in arrays]
    mean_sizes: dict[int, float] = {}
    rows, results = [], {method: {"mare": [], "over": [], "agreement": []} for method in METHODS}
    agrees: dict[str, list[np.ndarray]] = {method: [] for method in METHODS}  # per crop, for the paired test
    for target in targets:
        quality = single_quality(arrays, target, mean_sizes)
        files = {
            "control": encode_with_control(control, images.to(device), float(target)),
            "control fit": encode_with_control(control, images.to(device), float(target), fit_size=True),
            "binary search": [
                pillow_encode(a, binary_search_quality(a, target, c)) for a, c in zip(arrays, cache, strict=True)
            ],
            "single quality": [pillow_encode(a, quality) for a in arrays],
        }
        row: list[object] = [f"{target:.0f}"]
        for method in METHODS:
            sizes = np.array([len(data) for data in files[method]], dtype=np.float64)
            relative = sizes / target - 1.0
            agrees[method].append((top1(model, files[method]).cpu() == reference).numpy())
            agreement = float(agrees[method][-1].mean())
            entry = {
                "mare": float(np.abs(relative).mean()),
                "over": float((relative > 0).mean()),
                "agreement": agreement,
            }
            for key, value in entry.items():
                results[method][key].append(value)
            row += [100 * entry["mare"], 100 * entry["over"], 100 * agreement]
        rows.append(row + [quality])
        cells = "  ".join(
            f"{method} MARE {100 * results[method]['mare'][-1]:.1f}% over {100 * results[method]['over'][-1]:.0f}% "
            f"agree {100 * results[method]['agreement'][-1]:.1f}%"
            for method in METHODS
        )
        print(f"target {target:.0f} B: {cells}", flush=True)

    header = ["target B"] + [
        f"{m} {k}" for m in ("ctrl", "fit", "bsearch", "single") for k in ("MARE%", "over%", "agree%")
    ]
    print(format_table(header + ["q single"], rows, floatfmt=".1f"))
    for method in METHODS:
        r = results[method]
        print(
            f"{method:15s} mean MARE {100 * np.mean(r['mare']):.1f}%  over {100 * np.mean(r['over']):.1f}%  "
            f"agreement {100 * np.mean(r['agreement']):.1f}%"
        )
    baseline = results["binary search"]["agreement"]
    for method in ("control", "control fit"):
        wins = sum(c > b for c, b in zip(results[method]["agreement"], baseline, strict=True))
        ties = sum(c == b for c, b in zip(results[method]["agreement"], baseline, strict=True))
        print(f"{method} agreement above binary search at {wins}/{len(targets)} targets ({ties} ties)")
        only_ours, only_baseline = discordant(np.concatenate(agrees[method]), np.concatenate(agrees["binary search"]))
        print(
            f"  paired over all crops and targets: only {method} agrees {only_ours}, only binary search "
            f"{only_baseline}, two-sided sign test p = {sign_test(only_ours, only_baseline):.2f}"
        )
    plot(targets, results, RESULTS_DIR / "control.png")


def plot(targets: np.ndarray, results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for method in METHODS:
        left.plot(targets, 100 * np.array(results[method]["mare"]), marker="o", label=method)
        right.plot(targets, 100 * np.array(results[method]["agreement"]), marker="o", label=method)
    left.set(xscale="log", xlabel="target file size (bytes)", ylabel="file-size MARE to target (%)")
    right.set(xscale="log", xlabel="target file size (bytes)", ylabel="EfficientNet-Lite0 top-1 agreement (%)")
    left.axhline(5, color="gray", linestyle=":")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
