"""How useful the differentiable JPEG codecs' gradients are: w.r.t. the quality and w.r.t. the image.

Compared in one run: our ``diff_jpeg`` in ``mode="surrogate"``, ``"ste"`` and ``"exact"`` with their
default quality gradient (``quality_gradient="finite_difference"``: the mode's own output differenced
over ``q -+ 3``), the surrogate mode with the smooth face's analytic quality gradient
(``quality_gradient="surrogate"``, the behaviour before 0.2), two other estimators measured against it
(``dithered q``: the mean of the smooth face over 4 qualities drawn in ``q -+ 3``; ``table secant``:
the surrogate mode whose tables' derivative is libjpeg's integer tables differenced over ``q -+ 3``),
and ``kornia.enhance.jpeg_codec_differentiable`` (kornia 0.9; its own Annex K tables, 4:2:0). The real
codec is OpenCV (libjpeg-turbo, 4:2:0). Two photo sets: "tuning" (random 96x96 crops of the
scikit-image color photos, what the estimator was developed on) and "held-out" (central 96x96 crops
of foolbox's 20 ImageNet photos at 224 px; for the attacks, photos 11-20 are held out and 1-10 tune).

1. Quality-gradient direction. Per crop, its real JPEG at a true quality q* in {7, 23, 61, 88} is the
   reference; the loss is ``MSE(codec(x, q), reference)`` at q = 3.37, 7.37, ..., 99.37 (the grid
   3, 7, ..., 99 plus 0.37), skipping |q - q*| < 3; the score is the share of points where -dL/dq
   points toward q*. Beside the codecs: the real codec's own finite difference of the same loss,
   ``L(round(q) + s) - L(round(q) - s)`` with s = 1 and s = 3 (the attainable ceiling).
2. Bounds. |dL/dq| of ``L = MSE(codec(x, q), x)`` at q = 1 and q = 100 over its value one quality
   inside (q = 2, q = 99), median over the held-out crops.
3. Quality recovery from one start (our three modes, the old analytic gradient and Kornia). Given
   only the real JPEG of a crop (64x64) at an unknown quality
   drawn uniformly from 1..99, Adam (lr 5, betas (0.9, 0.9), cosine decay, 60 steps, q clamped to
   [1, 100]) descends ``log MSE(codec(x, q), target)`` from a single start, q = 1 (below the truth the
   real loss falls steadily as the quality rises; above it the real codec's own loss has shallow
   local minima) and, as a second column, q = 50. Mean absolute error in quality units; the control is
   an exhaustive search of each codec's forward over the integer qualities.
4. Image gradients at unsaturated budgets. IFGSM (``attacks.ifgsm``) and PGD (``attacks.pgd``, seeded
   start) with eps 1/255 and 2/255, 5 steps, through each codec at the attacked quality, against
   EfficientNet-Lite0 with its ImageNet weights, on foolbox's 20 labelled ImageNet photos in 4 views
   each (the whole photo and three crops, ``testing.datasets.IMAGENET_VIEWS``; ``--views``), resized
   to 224 px, keeping those classified correctly when clean; each view is attacked at one quality per band
   (q 1-10: 2, 5, 8; q 11-99: 20, 50, 80, 95, in turn). The adversarial image is rounded to 8 bits
   and coded by OpenCV at that quality; the tables give the mean softmax probability of the true
   class in % and the top-1 accuracy in % after it (lower = stronger attack), with "no attack" as
   the baseline. Photos 1-10 are the tuning split, 11-20 the held-out one. A third split,
   "scikit-image", is 72 random 224 px crops of the scikit-image color photos labelled by the model
   itself, those whose label it gives with probability >= 0.3 (a second tuning set, independent of
   foolbox's photos). "ours surrogate 0.2 (polynomial rounding)" is the image gradient of release 0.2
   (``rounding="polynomial"``).
5. Cost of the quality gradient: forward+backward time of a 4x3x224x224 batch with a quality that
   requires grad (finite difference / analytic), and the forward time when it does not (default /
   ``quality_gradient="surrogate"``, the same code path), ratios of medians taken in turns, with 1
   and 2 threads.
6. Plot: loss vs quality of one held-out crop against its real JPEG at q* = 23, with each codec's
   -dL/dq as arrows: benchmarks/results/gradients_quality.png.

Run:   python benchmarks/gradients.py           (about 45 min on 2 quiet CPU cores)
       python benchmarks/gradients.py --sections 4   (only the attacks; --sections takes any of 1-6)
       python benchmarks/gradients.py --quick   (2 crops, 10 recovery steps, one attack budget on 2 photos)
       python benchmarks/gradients.py --sections 4 --views 6 --attack-codecs "ours surrogate;kornia 0.9"
           --dither-scales 2,2.5,3.5   (the comparison of the dithered rounding's noise scales)
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS_DIR, format_table, interleaved_median_ms, make_parser, setup
from kornia.enhance import jpeg_codec_differentiable
from tqdm import tqdm

from kornia_diffjpeg import attacks, diff_jpeg
from kornia_diffjpeg.codec import annex_k_tables, surrogates
from kornia_diffjpeg.codec.quality_gradient import QUALITY_WINDOW
from kornia_diffjpeg.codec.tables import libjpeg_table
from testing.datasets import COLOR_PHOTOS, imagenet_photos, photo_crops
from testing.pretrained import efficientnet_lite0
from testing.reference import from_uint8, opencv_jpeg, to_uint8

# A differentiable codec: (images (B, 3, H, W), qualities (B,)) -> coded images.
Codec = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

TARGETS = (7, 23, 61, 88)
GRID = tuple(q + 0.37 for q in range(3, 100, 4))
CROP = 96
RECOVERY_CROP = 64
BANDS = {"q 1-10": (2, 5, 8), "q 11-99": (20, 50, 80, 95)}
BUDGETS = (1, 2)  # eps on the 0..255 scale
ATTACK_STEPS = 5
# The scikit-image split: random 224 px crops of the color photos, labelled by the model where its
# softmax is at least this sure.
PSEUDO_LABELLED_CROPS, PSEUDO_LABEL_CONFIDENCE = 72, 0.3
VIEWS = 4  # views per photo in the attacks (--views): 1 is the whole photo, 2-4 crops of it
DIRECTION_TUNING, DIRECTION_HELD_OUT = 8, 12  # crops of each set in sections 1-3 (2 each with --quick)
RECOVERY_CODECS = ("ours surrogate", "ours ste", "ours exact", "ours surrogate, analytic dq (old)", "kornia 0.9")


def _ours(mode: str, quality_gradient: str = "finite_difference", rounding: str = "dithered") -> Codec:
    def codec(images, quality):
        return diff_jpeg(images, quality, mode=mode, quality_gradient=quality_gradient, rounding=rounding)

    return codec


def _ours_dithered(dither_scale: float) -> Codec:
    """The surrogate mode with another scale of the dithered rounding's noise (its backward keeps the scale
    its forward ran with)."""

    def codec(images, quality):
        default, surrogates.DITHER_SCALE = surrogates.DITHER_SCALE, dither_scale
        try:
            return diff_jpeg(images, quality)
        finally:
            surrogates.DITHER_SCALE = default

    return codec


def _kornia(images, quality):
    return jpeg_codec_differentiable(images, quality)


def _dithered(images, quality, draws: int = 4):
    """The mean of the smooth face at ``draws`` qualities drawn uniformly in q -+ 3 (seeded)."""
    generator = torch.Generator().manual_seed(0)
    coded = 0.0
    for _ in range(draws):
        noise = (2.0 * torch.rand(quality.shape, generator=generator) - 1.0).to(quality.device)
        dithered = (quality + QUALITY_WINDOW * noise).clamp(1.0, 100.0)
        coded = coded + diff_jpeg(images, dithered, quality_gradient="surrogate")
    return coded / draws


def _secant_tables(quality: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The smooth face's interpolated libjpeg tables whose derivative is their secant over q -+ 3."""
    q = quality.detach().view(-1, 1, 1)
    low = torch.clamp(q - QUALITY_WINDOW, 1.0, 100.0 - 2.0 * QUALITY_WINDOW)
    tables = []
    for base in annex_k_tables(torch.float32, quality.device):
        lower = torch.floor(q)
        value = torch.lerp(libjpeg_table(base, lower), libjpeg_table(base, (lower + 1).clamp(max=100)), q - lower)
        slope = (libjpeg_table(base, low + 2 * QUALITY_WINDOW) - libjpeg_table(base, low)) / (2 * QUALITY_WINDOW)
        tables.append(value + (quality.view(-1, 1, 1) - q) * slope)
    return tables[0], tables[1]


def _table_secant(images, quality):
    qt_y, qt_c = _secant_tables(quality)
    return diff_jpeg(images, qt_y=qt_y, qt_c=qt_c, quality_gradient="surrogate")


CODECS: dict[str, Codec] = {
    "ours surrogate": _ours("surrogate"),
    "ours ste": _ours("ste"),
    "ours exact": _ours("exact"),
    "ours surrogate, analytic dq (old)": _ours("surrogate", "surrogate"),
    "ours surrogate 0.2 (polynomial rounding)": _ours("surrogate", rounding="polynomial"),  # 0.2's image gradient
    "dithered q (surrogate)": _dithered,
    "table secant (surrogate)": _table_secant,
    "kornia 0.9": _kornia,
}
ATTACK_CODECS = ("ours surrogate", "ours ste", "ours exact", "ours surrogate 0.2 (polynomial rounding)", "kornia 0.9")


def real_jpeg(images: torch.Tensor, qualities: Sequence[int]) -> torch.Tensor:
    """OpenCV's JPEG of each image (rounded to 8 bits first) at its quality, as floats in [0, 1]."""
    coded = [from_uint8(opencv_jpeg(to_uint8(image), int(q))) for image, q in zip(images, qualities, strict=True)]
    return torch.stack(coded).to(images.device)


def center_crops(images: torch.Tensor, size: int) -> torch.Tensor:
    top, left = (images.shape[-2] - size) // 2, (images.shape[-1] - size) // 2
    return images[..., top : top + size, left : left + size].contiguous()


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).square().flatten(1).mean(1)


# --- 1. direction -------------------------------------------------------------------------------


def direction_points(grid: Sequence[float] = GRID) -> list[tuple[float, int]]:
    """(q, q*) pairs of the protocol: every grid quality at least 3 from the true one."""
    return [(q, t) for t in TARGETS for q in grid if abs(q - t) >= 3]


def real_losses(crop: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The real codec's loss against each reference at every integer quality (T, 100), and the references."""
    coded = real_jpeg(crop[None].expand(100, -1, -1, -1), list(range(1, 101)))
    references = coded[[t - 1 for t in TARGETS]]
    return _mse(
        coded[None].expand(len(TARGETS), -1, -1, -1, -1).flatten(0, 1), references.repeat_interleave(100, 0)
    ).view(len(TARGETS), 100), references


def direction_score(codec: Codec, crop: torch.Tensor, references: torch.Tensor, points) -> torch.Tensor:
    """1.0 where -dL/dq points toward q*, per point."""
    quality = torch.tensor([q for q, _ in points], device=crop.device, requires_grad=True)
    reference = references[[TARGETS.index(t) for _, t in points]]
    images = crop[None].expand(len(points), -1, -1, -1).contiguous()
    _mse(codec(images, quality), reference).sum().backward()
    toward = torch.tensor([np.sign(t - q) for q, t in points], device=crop.device)
    return (-quality.grad).sign().eq(toward).float().cpu()


def ceiling_score(losses: torch.Tensor, points, step: int) -> torch.Tensor:
    hits = []
    for q, t in points:
        center = round(q)
        low, high = max(center - step, 1), min(center + step, 100)
        slope = losses[TARGETS.index(t), high - 1] - losses[TARGETS.index(t), low - 1]
        hits.append(float(np.sign(-float(slope)) == np.sign(t - q)))
    return torch.tensor(hits)


def direction_table(sets: dict[str, torch.Tensor], grid: Sequence[float]) -> str:
    points = direction_points(grid)
    scores: dict[str, dict[str, list[torch.Tensor]]] = {}
    for set_name, crops in sets.items():
        for crop in tqdm(crops, desc=f"direction, {set_name}", leave=False):
            losses, references = real_losses(crop)
            for step in (1, 3):
                row = scores.setdefault(f"real codec (OpenCV), finite difference +-{step}", {})
                row.setdefault(set_name, []).append(ceiling_score(losses, points, step))
            for name, codec in CODECS.items():
                scores.setdefault(name, {}).setdefault(set_name, []).append(
                    direction_score(codec, crop, references, points)
                )
    rows = [[name, *(float(torch.cat(row[s]).mean()) for s in sets)] for name, row in scores.items()]
    header = ["share of -dL/dq toward q*", *(f"{s} ({len(c)} crops)" for s, c in sets.items())]
    return format_table(header, rows, ".3f")


# --- 2. bounds ----------------------------------------------------------------------------------


def bound_table(crops: torch.Tensor) -> str:
    rows = []
    for name, codec in CODECS.items():
        ratios = []
        for bound, inside in ((1.0, 2.0), (100.0, 99.0)):
            quality = torch.tensor([bound, inside], device=crops.device).repeat_interleave(crops.shape[0])
            quality.requires_grad_(True)
            images = crops.repeat(2, 1, 1, 1)
            _mse(codec(images, quality), images).sum().backward()
            at_bound, one_inside = quality.grad.abs().view(2, -1)
            ratios.append(float((at_bound / one_inside.clamp(min=1e-30)).median()))
        rows.append([name, *ratios])
    header = ["|dL/dq| at the bound / one inside", "q=1 / q=2", "q=100 / q=99"]
    return format_table(header, rows, ".3g")


# --- 3. quality recovery ------------------------------------------------------------------------


def recover_quality(codec: Codec, images: torch.Tensor, target: torch.Tensor, start: float, steps: int):
    quality = torch.full((images.shape[0],), start, device=images.device, requires_grad=True)
    optimizer = torch.optim.Adam([quality], lr=5.0, betas=(0.9, 0.9))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps, eta_min=0.05)
    for _ in range(steps):
        loss = _mse(codec(images, quality), target).add(1e-12).log()
        optimizer.zero_grad()
        loss.sum().backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            quality.clamp_(1.0, 100.0)
    return quality.detach()


@torch.no_grad()
def grid_argmin(codec: Codec, images: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    qualities = torch.arange(1.0, 101.0, device=images.device)
    losses = [
        _mse(codec(image[None].expand(100, -1, -1, -1), qualities), goal)
        for image, goal in zip(images, target, strict=True)
    ]
    return qualities[torch.stack(losses).argmin(1)]


def recovery_table(sets: dict[str, torch.Tensor], steps: int, seed: int = 0) -> str:
    rows: dict[str, list[float]] = {}
    generator = torch.Generator().manual_seed(seed)
    for set_name, crops in sets.items():
        truth = torch.randint(1, 100, (crops.shape[0],), generator=generator).float()
        target = real_jpeg(crops, truth.int().tolist())
        for name in tqdm(RECOVERY_CODECS, desc=f"recovery, {set_name}", leave=False):
            codec = CODECS[name]
            row = rows.setdefault(name, [])
            for start in (1.0, 50.0):
                estimate = recover_quality(codec, crops, target, start, steps).cpu()
                row.append(float((estimate - truth).abs().mean()))
            row.append(float((grid_argmin(codec, crops, target).cpu() - truth).abs().mean()))
    header = ["recovery MAE (quality units)"]
    for set_name, crops in sets.items():
        header += [f"{set_name} ({len(crops)}) from 1", "from 50", "grid search"]
    return format_table(header, [[name, *values] for name, values in rows.items()], ".2f")


# --- 4. attacks ---------------------------------------------------------------------------------


def attack_table(
    model: torch.nn.Module,
    splits: dict[str, tuple[torch.Tensor, torch.Tensor]],
    budgets: Sequence[int],
    methods: Sequence[str],
    kinds: Sequence[str] = ("ifgsm", "pgd"),
    chunk: int = 16,
) -> str:
    header = ["after real JPEG", "attack", "eps"]
    for split in splits:
        header += [f"p(true) % {b}, {split}" for b in BANDS] + [f"top-1 % {b}, {split}" for b in BANDS]
    rows: dict[tuple[str, str, str], list[float]] = {}
    per_view: dict[tuple[str, str, str, str, str], torch.Tensor] = {}  # (method, attack, eps, split, band)
    total = len(splits) * len(BANDS) * (1 + len(kinds) * len(budgets) * len(methods))
    progress = tqdm(total=total, desc="attacks", leave=False)
    for split, (images, labels) in splits.items():
        for band, qualities in BANDS.items():
            q = [qualities[i % len(qualities)] for i in range(len(labels))]
            cases: list[tuple[str, str, int | None]] = [("no attack", "", None)]
            cases += [(m, a, e) for e in budgets for a in kinds for m in methods]
            for method, attack, eps in cases:
                probability, correct = [], []
                for start in range(0, len(labels), chunk):
                    x, y = images[start : start + chunk], labels[start : start + chunk]
                    quality = torch.tensor(q[start : start + chunk], dtype=torch.float32, device=x.device)
                    if eps is None:
                        adversarial = x
                    else:
                        jpeg = functools.partial(CODECS[method], quality=quality)
                        if attack == "ifgsm":
                            adversarial = attacks.ifgsm(model, x, y, eps / 255, jpeg, steps=ATTACK_STEPS)
                        else:
                            generator = torch.Generator(x.device).manual_seed(start)
                            adversarial = attacks.pgd(
                                model, x, y, eps / 255, jpeg, steps=ATTACK_STEPS, generator=generator
                            )
                    with torch.no_grad():
                        logits = model(real_jpeg(adversarial, q[start : start + chunk]))
                    probability.append(logits.softmax(1).gather(1, y[:, None])[:, 0].cpu())
                    correct.append(logits.argmax(1).eq(y).float().cpu())
                key = (method, attack, "" if eps is None else f"{eps}/255")
                per_view[(*key, split, band)] = torch.cat(probability)
                result = (100.0 * float(torch.cat(probability).mean()), 100.0 * float(torch.cat(correct).mean()))
                rows.setdefault(key, {})[(split, band)] = result
                progress.write(
                    f"  {split}, {band}, {method} {attack} {key[2]}: p(true) {result[0]:.2f} %, top-1 {result[1]:.1f} %"
                )
                progress.update(1)
        progress.write(f"  attacks on the {split} split done")
    progress.close()
    table = []
    for (method, attack, eps), values in rows.items():
        row = [method, attack, eps]
        for split in splits:
            row += [values[(split, b)][0] for b in BANDS] + [values[(split, b)][1] for b in BANDS]
        table.append(row)
    return format_table(header, table, ".2f", left=3) + "\n\n" + paired_differences(per_view, methods, splits)


def paired_differences(
    per_view: dict[tuple[str, str, str, str, str], torch.Tensor],
    methods: Sequence[str],
    splits: Sequence[str],
    resamples: int = 2000,
    seed: int = 0,
) -> str:
    """Mean true-class probability of the first codec minus each other's, in points, with a 95% paired
    bootstrap interval over the views (the same views are attacked through each codec): an interval
    that contains 0 does not separate the two."""
    generator = torch.Generator().manual_seed(seed)
    header = ["first codec minus", "attack", "eps"] + [f"{split}, {band}" for split in splits for band in BANDS]
    table = []
    first, others = methods[0], methods[1:]
    attacked = dict.fromkeys((attack, eps) for method, attack, eps, *_ in per_view if method == first)
    for attack, eps in attacked:
        for other in others:
            row: list[object] = [other, attack, eps]
            for split in splits:
                for band in BANDS:
                    ours, theirs = (
                        per_view[(first, attack, eps, split, band)],
                        per_view[(other, attack, eps, split, band)],
                    )
                    difference = 100.0 * (ours - theirs)
                    picks = torch.randint(len(difference), (resamples, len(difference)), generator=generator)
                    low, high = torch.quantile(difference[picks].mean(1), torch.tensor([0.025, 0.975])).tolist()
                    row.append(f"{float(difference.mean()):+.2f} [{low:+.2f}, {high:+.2f}]")
            table.append(row)
    title = f"paired differences of p(true) in points, {first} minus each codec, 95% bootstrap interval over the views"
    return title + "\n" + format_table(header, table, left=3)


# --- 5. cost ------------------------------------------------------------------------------------


def cost_table(device: torch.device, repeats: int) -> str:
    images = torch.rand(4, 3, 224, 224, device=device)
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for mode in ("surrogate", "ste", "exact"):

            def backward(quality_gradient: str, mode: str = mode) -> None:
                quality = torch.full((4,), 50.37, device=device, requires_grad=True)
                diff_jpeg(images, quality, mode=mode, quality_gradient=quality_gradient).square().sum().backward()

            def forward(quality_gradient: str, mode: str = mode) -> None:
                diff_jpeg(images, torch.full((4,), 50.37, device=device), mode=mode, quality_gradient=quality_gradient)

            times = interleaved_median_ms(
                {
                    "fd": lambda: backward("finite_difference"),
                    "analytic": lambda: backward("surrogate"),
                    "fwd default": lambda: forward("finite_difference"),
                    "fwd old": lambda: forward("surrogate"),
                },
                device,
                repeats,
            )
            rows.append(
                [
                    f"{mode}, {threads} thread{'s' if threads > 1 else ''}",
                    times["fd"],
                    times["analytic"],
                    times["fd"] / times["analytic"],
                    times["fwd default"] / times["fwd old"],
                ]
            )
    torch.set_num_threads(2)
    header = ["4x3x224x224", "fwd+bwd ms, finite difference", "fwd+bwd ms, analytic", "ratio", "fwd ratio, no grad"]
    return format_table(header, rows, ".2f")


# --- 6. plot ------------------------------------------------------------------------------------


def plot(crop: torch.Tensor, path: Path, target: int = 23) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    losses, references = real_losses(crop)
    reference = references[TARGETS.index(target)][None]
    figure, axes = plt.subplots(figsize=(8, 4.5))
    axes.plot(range(1, 101), losses[TARGETS.index(target)].numpy(), "k-", lw=1, label="real codec (OpenCV)")
    grid = torch.tensor([q for q in GRID if abs(q - target) >= 3])
    shown = ("ours surrogate", "ours exact", "ours surrogate, analytic dq (old)", "kornia 0.9")
    colors = ("tab:blue", "tab:green", "tab:orange", "tab:red")
    for offset, (name, color) in enumerate(zip(shown, colors, strict=True)):
        quality = grid.clone().requires_grad_(True)
        images = crop[None].expand(len(grid), -1, -1, -1).contiguous()
        loss = _mse(CODECS[name](images, quality), reference.expand_as(images))
        loss.sum().backward()
        direction = -quality.grad.sign().numpy()
        height = loss.detach().numpy()
        axes.plot(grid.numpy(), height, "o", color=color, markersize=3, label=f"{name}: -dL/dq")
        for x, y, d in zip(grid.numpy(), height, direction, strict=True):
            axes.annotate(
                "",
                xy=(x + 2.5 * d, y * (1.0 + 0.04 * offset)),
                xytext=(x, y * (1.0 + 0.04 * offset)),
                arrowprops={"arrowstyle": "->", "color": color, "lw": 1},
            )
    axes.axvline(target, color="gray", ls=":", lw=1)
    axes.set_yscale("log")
    axes.set_xlabel("JPEG quality q")
    axes.set_ylabel(f"MSE(codec(x, q), OpenCV(x, {target}))")
    axes.set_title(f"Loss vs quality and each codec's descent direction (true q* = {target})")
    axes.legend(fontsize=7)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _clean_probabilities(model: torch.nn.Module, images: torch.Tensor, device: torch.device) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(part.to(device)).softmax(1).cpu() for part in images.split(32)])


def attack_splits(model: torch.nn.Module, device: torch.device, quick: bool, views: int = VIEWS):
    """The attacked views: foolbox's photos 1-10 ("tuning") and 11-20 ("held-out") with their labels,
    and crops of the scikit-image photos labelled by the model itself ("scikit-image"; a second,
    independent tuning set)."""
    images, labels = imagenet_photos(224, views)
    photo = torch.arange(len(labels)) // views
    clean = _clean_probabilities(model, images, device).argmax(1)  # attack only what the model gets right
    parts = {
        name: (images[chosen & clean.eq(labels)], labels[chosen & clean.eq(labels)])
        for name, chosen in (("tuning", photo < 10), ("held-out", photo >= 10))
    }
    crops = photo_crops(COLOR_PHOTOS, count=PSEUDO_LABELLED_CROPS, size=224, seed=1)
    confidence, predicted = _clean_probabilities(model, crops, device).max(1)
    sure = confidence >= PSEUDO_LABEL_CONFIDENCE  # crops of no ImageNet class would measure nothing
    parts["scikit-image"] = (crops[sure], predicted[sure])
    return {
        name: (x[:2].to(device), y[:2].to(device)) if quick else (x.to(device), y.to(device))
        for name, (x, y) in parts.items()
    }


def main(argv: Sequence[str] | None = None) -> dict[str, str]:
    parser = make_parser(__doc__)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the plot goes")
    parser.add_argument(
        "--attack-codecs", default=";".join(ATTACK_CODECS), help=f"codec names separated by ';', of {list(CODECS)}"
    )
    parser.add_argument("--attacks", default="ifgsm,pgd", help="ifgsm, pgd or both (comma-separated)")
    parser.add_argument("--views", type=int, default=VIEWS, help="views per photo in the attacks, 1..6")
    parser.add_argument(
        "--dither-scales",
        default="",
        help="also attack through the surrogate mode with these scales of the dithered rounding's noise "
        "(comma-separated gray levels, e.g. 2,2.5,3.5; the default is kornia_diffjpeg.codec.surrogates.DITHER_SCALE)",
    )
    parser.add_argument(
        "--sections", default="123456", help="which sections to run, e.g. 4 or 1235 (default: all, 123456)"
    )
    args = parser.parse_args(argv)
    device = setup(args.device)
    quick = args.quick
    whole, _ = imagenet_photos(224)
    held_out = center_crops(whole, CROP).to(device)
    tuning = photo_crops(COLOR_PHOTOS, count=12, size=CROP, scale=2, seed=0).to(device)
    if quick:
        held_out, tuning = held_out[:2], tuning[:2]
    else:
        held_out, tuning = held_out[:DIRECTION_HELD_OUT], tuning[:DIRECTION_TUNING]
    sets = {"tuning": tuning, "held-out": held_out}
    tables = {}

    if "1" in args.sections:
        start = time.perf_counter()
        grid = GRID[::3] if quick else GRID
        tables["direction"] = direction_table(sets, grid)
        print(f"1. Quality-gradient direction: MSE(codec(x, q), OpenCV(x, q*)), q* in {TARGETS}, {CROP}x{CROP} crops")
        print(tables["direction"], f"({time.perf_counter() - start:.0f} s)\n", sep="\n", flush=True)

    if "2" in args.sections:
        tables["bounds"] = bound_table(held_out)
        print("2. Quality gradient at the bounds: L = MSE(codec(x, q), x), median over the held-out crops")
        print(tables["bounds"], "", sep="\n", flush=True)

    if "3" in args.sections:
        start = time.perf_counter()
        recovery_sets = {name: center_crops(crops, RECOVERY_CROP) for name, crops in sets.items()}
        tables["recovery"] = recovery_table(recovery_sets, 10 if quick else 60)
        print("3. Quality recovery from one start (true q uniform in 1..99, Adam on log MSE)")
        print(tables["recovery"], f"({time.perf_counter() - start:.0f} s)\n", sep="\n", flush=True)

    if "6" in args.sections:
        path = args.results_dir / "gradients_quality.png"
        plot(held_out[0].cpu(), path)
        print(f"6. Plot: {path}\n", flush=True)

    if "5" in args.sections:
        tables["cost"] = cost_table(device, 3 if quick else 9)
        print("5. Cost of the quality gradient (median ms, taken in turns)")
        print(tables["cost"], "", sep="\n", flush=True)

    if "4" in args.sections:
        start = time.perf_counter()
        model = efficientnet_lite0().to(device=device, memory_format=torch.channels_last).eval()
        splits = attack_splits(model, device, quick, args.views)
        budgets = BUDGETS[:1] if quick else BUDGETS
        methods, kinds = args.attack_codecs.split(";"), args.attacks.split(",")
        for text in filter(None, args.dither_scales.split(",")):
            try:
                scale = float(text)
            except ValueError:
                parser.error(f"--dither-scales: {text!r} is not a number")
            if not 0.0 < scale < float("inf"):
                parser.error(f"--dither-scales: {text!r} is not a positive finite number")
            name = f"ours surrogate, dither {scale:g}"
            CODECS[name] = _ours_dithered(scale)
            methods.insert(-1 if methods[-1] == "kornia 0.9" else len(methods), name)
        unknown = [m for m in methods if m not in CODECS]
        if unknown:
            parser.error(f"--attack-codecs: unknown {unknown}; choose among {list(CODECS)}")
        tables["attacks"] = attack_table(model, splits, budgets, methods, kinds)
        counts = ", ".join(f"{name} {len(y)}" for name, (_, y) in splits.items())
        print(f"4. IFGSM / PGD, {ATTACK_STEPS} steps, EfficientNet-Lite0, photos classified correctly ({counts})")
        print(tables["attacks"], f"({time.perf_counter() - start:.0f} s)\n", sep="\n", flush=True)
    return tables


if __name__ == "__main__":
    main()
