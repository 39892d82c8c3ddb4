"""How useful the differentiable JPEG codecs' gradients are: attacks, vanishing gradients, quality recovery.

Compared in one run: our ``diff_jpeg`` in ``mode="surrogate"``, ``"ste"`` and ``"exact"`` (default
polynomial rounding surrogate), the surrogate mode with ``rounding="sigmoid"`` (the thesis' ablation:
stronger attacks at low qualities), and ``kornia.enhance.jpeg_codec_differentiable`` (kornia 0.9.0;
quality in [0, 100] as a (B,) tensor, its own Annex K base tables, 4:2:0 with average-pool /
bilinear chroma filters). The real codec is OpenCV (libjpeg-turbo, 4:2:0).

1. Attack strength (the paper's Table 5.3 protocol). IFGSM (``attacks.ifgsm``) with eps = 3 on the
   0..255 scale (3/255) and 10 steps, through each differentiable codec at the attacked quality, against
   EfficientNet-Lite0 with its ImageNet weights, on views of foolbox's 20 labelled ImageNet photos:
   six per photo (``datasets.IMAGENET_VIEWS``: the whole photo, a 384 px center crop and four 400 px
   corner crops, area-resized to 224x224; ``--quick``: the first photo, whole), each labelled with its
   photo's class, keeping the views the model classifies correctly when clean (no pseudo labels:
   the ones kept are labelled by ImageNet and predicted alike). The photos are JPEG files already.
   The adversarial image is rounded to 8 bits, coded with OpenCV's JPEG at the same quality and
   classified; the table gives top-1 accuracy in % (lower = more useful gradients) per quality band,
   with "no attack" (the clean views through the same real JPEG) as the baseline, and the mean
   softmax probability of the true class in % (lower = stronger; it separates methods whose
   accuracies tie at 0). Qualities: band 1-10 uses {2, 5, 8}, band 11-99 uses {20, 50, 80, 95}. By
   default each view is attacked at one quality of each band (view i at the band's quality i mod
   its size); ``--full`` attacks every view at every quality 1..10 and 15, 25, ..., 95, and adds an
   attack that ignores JPEG.
2. Vanishing gradients (the thesis' Table 5.4 protocol). For L1(codec(x, q), real_jpeg(x, q)), a
   minimum at every integer quality, the mean gradient norm w.r.t. the quality and w.r.t. the base
   tables (Annex K luma and chroma, scaled by the quality, requires_grad; the norm of both together),
   over the central 96x96 crops of the 20 whole photos at every band quality (lower is better). In
   ``"exact"`` mode the forward output equals the real codec's, so the L1 loss and its gradient
   (``sign(0) = 0``) are exactly zero by construction.
3. Quality recovery. Given only OpenCV's JPEG of a photo (central 64x64 crop) at an unknown integer
   quality drawn uniformly from 1..99 (seeded), Adam descends the MSE between ``codec(original, q)``
   and that JPEG from the starts q = 5, 20, ..., 95 (30 steps, learning rate 2 with cosine decay, q
   clamped to [1, 100]); the start with the lowest final loss gives the estimate. The loss has narrow
   wells (a few qualities wide) and local minima between them, hence the seven starts. The table gives
   the mean and median absolute error in quality units, the share of estimates that round to the true
   quality, and as a control the error of an exhaustive search over the integer qualities (how well the
   codec's forward pins the quality down at all), over 8 photos (``--full``: all 20, three draws each).
4. A plot of accuracy after the attack against quality, per method: benchmarks/results/gradients.png.

Run:   python benchmarks/gradients.py           (about 10 min on 2 quiet CPU cores)
       python benchmarks/gradients.py --quick   (one photo, qualities 5 and 50, 2 attack steps; smoke test)
       python benchmarks/gradients.py --full    (every view at 19 qualities; hours on CPU)
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS_DIR, format_table, make_parser, setup
from kornia.enhance import jpeg_codec_differentiable

from kornia_diffjpeg import attacks, diff_jpeg
from kornia_diffjpeg.codec import annex_k_tables
from testing.datasets import imagenet_photos
from testing.pretrained import efficientnet_lite0
from testing.reference import from_uint8, opencv_jpeg, to_uint8

# A differentiable codec: (images (B, 3, H, W), qualities (B,), base tables (B, 8, 8) or None) -> coded images.
Codec = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None], torch.Tensor]


def _ours(mode: str, rounding: str = "polynomial") -> Codec:
    def codec(images, quality, qt_y=None, qt_c=None):
        return diff_jpeg(images, quality, qt_y=qt_y, qt_c=qt_c, mode=mode, rounding=rounding)

    return codec


def _kornia(images, quality, qt_y=None, qt_c=None):
    return jpeg_codec_differentiable(images, quality, qt_y, qt_c)


CODECS: dict[str, Codec] = {
    "ours surrogate": _ours("surrogate"),
    "ours ste": _ours("ste"),
    "ours exact": _ours("exact"),
    "ours surrogate, sigmoid": _ours("surrogate", "sigmoid"),
    "kornia 0.9.0": _kornia,
}
BANDS = {"q 1-10": (2, 5, 8), "q 11-99": (20, 50, 80, 95)}
FULL_BANDS = {"q 1-10": tuple(range(1, 11)), "q 11-99": tuple(range(15, 100, 10))}
QUICK_BANDS = {"q 1-10": (5,), "q 11-99": (50,)}
EPS = 3 / 255
CROP = 96
VIEWS = 6
STARTS = (5.0, 20.0, 35.0, 50.0, 65.0, 80.0, 95.0)
RECOVERY_CROP = 64


def real_jpeg(images: torch.Tensor, qualities: Sequence[int]) -> torch.Tensor:
    """OpenCV's JPEG of each image (rounded to 8 bits first) at its quality, as floats in [0, 1]."""
    coded = [from_uint8(opencv_jpeg(to_uint8(image), int(q))) for image, q in zip(images, qualities, strict=True)]
    return torch.stack(coded).to(images.device)


def center_crops(images: torch.Tensor, size: int) -> torch.Tensor:
    top, left = (images.shape[-2] - size) // 2, (images.shape[-1] - size) // 2
    return images[..., top : top + size, left : left + size].contiguous()


# --- 1. attack strength -------------------------------------------------------------------------


def attack_pairs(count: int, bands: dict[str, Sequence[int]], full: bool) -> list[tuple[int, int, str]]:
    """(photo, quality, band) triples: every photo at one quality per band, or at every quality (``full``)."""
    pairs = []
    for band, qualities in bands.items():
        for photo in range(count):
            chosen = qualities if full else [qualities[photo % len(qualities)]]
            pairs += [(photo, q, band) for q in chosen]
    return pairs


def _scores(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    probability = logits.softmax(1).gather(1, labels[:, None])[:, 0]
    return torch.stack([logits.argmax(1).eq(labels).float(), probability], 1).cpu()


def attack_accuracy(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    pairs: list[tuple[int, int, str]],
    methods: dict[str, Codec | None],
    steps: int,
    chunk: int,
) -> dict[str, torch.Tensor]:
    """Per method, the true class's probability for each attacked pair after the real JPEG, and whether it wins.

    Returns (pairs, 2) tensors: column 0 is 1.0 where the prediction is correct, column 1 the probability.
    """
    photo_index = torch.tensor([p for p, _, _ in pairs])
    qualities = [q for _, q, _ in pairs]
    correct: dict[str, list[torch.Tensor]] = {"no attack": [], **{name: [] for name in methods}}
    for start in range(0, len(pairs), chunk):
        index = photo_index[start : start + chunk]
        batch, truth, q = images[index], labels[index], qualities[start : start + chunk]
        q_tensor = torch.tensor(q, dtype=torch.float32, device=images.device)
        with torch.no_grad():
            correct["no attack"].append(_scores(model(real_jpeg(batch, q)), truth))
        for name, codec in methods.items():
            jpeg = None if codec is None else functools.partial(codec, quality=q_tensor)
            adversarial = attacks.ifgsm(model, batch, truth, EPS, jpeg, steps=steps)
            with torch.no_grad():
                correct[name].append(_scores(model(real_jpeg(adversarial, q)), truth))
    return {name: torch.cat(values) for name, values in correct.items()}


def accuracy_tables(
    correct: dict[str, torch.Tensor], pairs: list[tuple[int, int, str]], bands: dict[str, Sequence[int]]
) -> tuple[str, str, dict[str, dict[int, float]]]:
    band_of = np.array([b for _, _, b in pairs])
    quality_of = np.array([q for _, q, _ in pairs])
    qualities = [q for values in bands.values() for q in values]
    per_quality = {
        name: {q: 100.0 * float(scores[torch.from_numpy(quality_of == q), 0].mean()) for q in qualities}
        for name, scores in correct.items()
    }
    band_rows = [
        [name] + [100.0 * float(scores[torch.from_numpy(band_of == band), c].mean()) for c in (0, 1) for band in bands]
        for name, scores in correct.items()
    ]
    quality_rows = [[name] + [values[q] for q in qualities] for name, values in per_quality.items()]
    header = ["after real JPEG", *(f"top-1 % {b}" for b in bands), *(f"p(true) % {b}" for b in bands)]
    band_table = format_table(header, band_rows, ".2f")
    quality_table = format_table(["top-1 % at q", *map(str, qualities)], quality_rows, ".0f")
    return band_table, quality_table, per_quality


# --- 2. vanishing gradients ---------------------------------------------------------------------


def gradient_norms(
    codec: Codec, images: torch.Tensor, qualities: Sequence[int], real: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample |dL/dq| and ||dL/d(base tables)|| of L = L1(codec(x, q), real) at the integer qualities."""
    batch = images.shape[0]
    quality = torch.tensor(qualities, dtype=torch.float32, device=images.device, requires_grad=True)
    qt_y, qt_c = (t.to(images.device).expand(batch, 8, 8).clone().requires_grad_(True) for t in annex_k_tables())
    coded = codec(images, quality, qt_y, qt_c)
    loss = (coded - real).abs().flatten(1).mean(1).sum()  # summed: each sample's gradient is its own
    grad_q, grad_y, grad_c = torch.autograd.grad(loss, (quality, qt_y, qt_c))
    table_norm = torch.sqrt(grad_y.square().sum((1, 2)) + grad_c.square().sum((1, 2)))
    return grad_q.abs(), table_norm


def vanishing_table(crops: torch.Tensor, bands: dict[str, Sequence[int]]) -> str:
    qualities = [q for values in bands.values() for q in values]
    images = crops.repeat_interleave(len(qualities), 0)
    per_image = qualities * crops.shape[0]
    band_of = np.array([band for band, values in bands.items() for _ in values] * crops.shape[0])
    real = real_jpeg(images, per_image)
    rows = []
    for name, codec in CODECS.items():
        grad_q, grad_t = gradient_norms(codec, images, per_image, real)
        row = [name]
        for values in (grad_q, grad_t):
            row += [float(values[torch.from_numpy(band_of == band)].mean()) for band in bands]
        rows.append(row)
    header = ["mean gradient norm", *(f"d/dq {b}" for b in bands), *(f"d/dtables {b}" for b in bands)]
    return format_table(header, rows, ".3g")


# --- 3. quality recovery ------------------------------------------------------------------------


def recover_quality(codec: Codec, images: torch.Tensor, target: torch.Tensor, steps: int) -> torch.Tensor:
    """Estimated quality per image: Adam on the MSE from each of ``STARTS``, keeping the lowest-loss start."""
    count, starts = images.shape[0], len(STARTS)
    repeated, goal = images.repeat(starts, 1, 1, 1), target.repeat(starts, 1, 1, 1)
    quality = torch.tensor(STARTS, device=images.device).repeat_interleave(count).requires_grad_(True)
    optimizer = torch.optim.Adam([quality], lr=2.0)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps, eta_min=0.05)
    for _ in range(steps):
        loss = (codec(repeated, quality) - goal).square().flatten(1).mean(1)
        optimizer.zero_grad()
        loss.sum().backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            quality.clamp_(1.0, 100.0)
    with torch.no_grad():
        final = (codec(repeated, quality) - goal).square().flatten(1).mean(1).reshape(starts, count)
    best = final.argmin(0)
    return quality.detach().reshape(starts, count)[best, torch.arange(count)]


@torch.no_grad()
def grid_argmin(codec: Codec, images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The integer quality in 1..100 whose coded image is closest (MSE) to the target, per image."""
    qualities = torch.arange(1.0, 101.0, device=images.device)
    losses = [
        (codec(image[None].expand(100, -1, -1, -1), qualities) - goal).square().flatten(1).mean(1)
        for image, goal in zip(images, target, strict=True)
    ]
    return qualities[torch.stack(losses).argmin(1)]


def recovery_table(crops: torch.Tensor, draws: int, steps: int, seed: int = 0) -> str:
    generator = torch.Generator().manual_seed(seed)
    images = crops.repeat(draws, 1, 1, 1)
    truth = torch.randint(1, 100, (images.shape[0],), generator=generator).float()
    target = real_jpeg(images, truth.int().tolist())
    rows = []
    for name, codec in CODECS.items():
        estimate = recover_quality(codec, images, target, steps).cpu()
        error = (estimate - truth).abs()
        hits = 100.0 * float(estimate.round().eq(truth).float().mean())
        grid = float((grid_argmin(codec, images, target).cpu() - truth).abs().mean())
        rows.append([name, float(error.mean()), float(error.median()), hits, grid])
    header = ["quality recovery", "MAE (quality units)", "median AE", "rounds to truth %", "grid-search MAE"]
    return format_table(header, rows, ".1f")


# --- 4. plot ------------------------------------------------------------------------------------


def plot(per_quality: dict[str, dict[int, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 4.2))
    for name, values in per_quality.items():
        style = "k--" if name == "no attack" else "-o"
        axes.plot(list(values), list(values.values()), style, label=name, markersize=4)
    axes.set_xscale("log")
    axes.set_xlabel("JPEG quality (real codec after the attack)")
    axes.set_ylabel("top-1 accuracy %")
    axes.set_title(
        "IFGSM eps=3/255, 10 steps, through each differentiable JPEG\n(EfficientNet-Lite0, lower = stronger)"
    )
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: Sequence[str] | None = None) -> dict[str, str]:
    parser = make_parser(__doc__)
    parser.add_argument("--full", action="store_true", help="every photo at 19 qualities, more recovery draws")
    parser.add_argument("--steps", type=int, default=10, help="IFGSM steps (default: 10, the protocol's)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the plot goes")
    args = parser.parse_args(argv)
    device = setup(args.device)
    bands = FULL_BANDS if args.full else QUICK_BANDS if args.quick else BANDS
    steps = 2 if args.quick else args.steps
    photos, views, recovery_photos, draws, recovery_steps = (
        (1, 1, 1, 1, 3) if args.quick else (20, VIEWS, 20 if args.full else 8, 3 if args.full else 1, 30)
    )

    model = efficientnet_lite0().to(device=device, memory_format=torch.channels_last)  # channels_last: faster on CPU
    whole, _ = imagenet_photos(224)
    whole = whole[:photos].to(device)
    images, labels = imagenet_photos(224, views)
    images, labels = images[: photos * views].to(device), labels[: photos * views].to(device)
    with torch.no_grad():  # attack only what the model gets right on the clean image
        clean = torch.cat([model(part).argmax(1) for part in images.split(32)])
    images, labels = images[clean == labels], labels[clean == labels]
    tables = {}

    start = time.perf_counter()
    methods: dict[str, Codec | None] = dict(CODECS)
    if args.full:
        methods["IFGSM without JPEG"] = None
    pairs = attack_pairs(len(labels), bands, args.full)
    correct = attack_accuracy(model, images, labels, pairs, methods, steps, chunk=20)
    band_table, quality_table, per_quality = accuracy_tables(correct, pairs, bands)
    tables["attack"], tables["attack per quality"] = band_table, quality_table
    print(
        f"1. Attack strength: IFGSM eps=3/255, {steps} steps, EfficientNet-Lite0, {len(labels)} views of foolbox's "
        f"{photos} ImageNet photos ({views} per photo) that it classifies correctly when clean"
    )
    print(band_table, "\n", quality_table, f"\n({time.perf_counter() - start:.0f} s)\n", sep="\n")

    start = time.perf_counter()
    crops = center_crops(whole, CROP)
    tables["vanishing"] = vanishing_table(crops, bands)
    print(f"2. Vanishing gradients of L1(codec(x, q), OpenCV(x, q)) at integer q ({photos} crops {CROP}x{CROP})")
    print(tables["vanishing"], f"\n({time.perf_counter() - start:.0f} s)\n", sep="\n")

    start = time.perf_counter()
    tables["recovery"] = recovery_table(center_crops(crops[:recovery_photos], RECOVERY_CROP), draws, recovery_steps)
    count = recovery_photos * draws
    print(f"3. Quality recovery from a real JPEG ({count} crops, true q uniform in 1..99, starts {STARTS})")
    print(tables["recovery"], f"\n({time.perf_counter() - start:.0f} s)\n", sep="\n")

    path = args.results_dir / "gradients.png"
    plot(per_quality, path)
    print(f"4. Plot: {path}")
    return tables


if __name__ == "__main__":
    main()
