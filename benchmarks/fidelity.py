"""Fidelity of the differentiable JPEG codecs to the real codec (libjpeg-turbo), as PSNR in dB.

Main table: 4:2:0 RGB. Each codec's output is compared with OpenCV's decode of OpenCV's encode
(``reference.opencv_jpeg``) of the same photo at the same quality; the PSNR (peak 1) is averaged over
the four skimage photos astronaut, coffee, chelsea and rocket (cropped to multiples of 16) and over
every integer quality of each band. Compared: our ``diff_jpeg`` in ``mode="surrogate"`` and
``mode="ste"``, and ``kornia.enhance.jpeg_codec_differentiable``. The issue's targets and the figures
reported for peer implementations are printed next to them.

Second table, at the qualities 1, 5, 10, 25, 50, 75, 90, 95, 99 and 100: 4:4:4 and 4:2:2 against
Pillow (OpenCV 4.x writes them too, but Pillow is the second reference), grayscale (skimage camera and
coins) against OpenCV, and odd sizes (central crops of the four photos) against OpenCV 4:2:0. Its
"exact" column counts the (image, quality) pairs whose output, rounded to 8 bits, equals the
reference bit for bit. Identical images count as 100 dB in the means.

A plot of PSNR against quality goes to benchmarks/results/fidelity.png.

Run:   python benchmarks/fidelity.py            (2 to 3 minutes on 2 CPU cores)
       python benchmarks/fidelity.py --quick    (one photo, a few qualities; about 20 s)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from _common import PHOTOS, RESULTS_DIR, center_crop, format_table, load_photos, make_parser, psnr, setup
from kornia.enhance import jpeg_codec_differentiable
from skimage import data

from kornia_diffjpeg import diff_jpeg
from kornia_diffjpeg.reference import from_uint8, opencv_jpeg, pillow_jpeg

# A codec under test: (images (B, C, H, W), qualities (B,), subsampling) -> coded images.
Codec = Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]
# The real codec: (uint8 image, quality) -> uint8 image.
Reference = Callable[[np.ndarray, int], np.ndarray]

BANDS = {
    "q 1-99": range(1, 100),
    "q 1-10": range(1, 11),
    "q 11-99": range(11, 100),
    "q=1": [1],
    "q=50": [50],
    "q=99": [99],
    "q=100": [100],
}
SUBSET = (1, 5, 10, 25, 50, 75, 90, 95, 99, 100)
ODD_SIZES = ((77, 101), (45, 123), (5, 3), (1, 1))
TINY = ("5x3 vs OpenCV", "1x1 vs OpenCV")  # left out of the plot: mostly identical to OpenCV (100 dB)
TARGETS = {"surrogate": (45.0, 41.0), "ste": (48.0, 46.0)}  # (q 1-99, q 1-10), from the issue
REPORTED = {  # (q 1-99, q 1-10) reported for peer implementations
    "official surrogate (reported)": (43.62, 39.00),
    "official STE (reported)": (44.18, 41.70),
    "kornia (reported)": (42.16, 35.45),
}


def ours(mode: str) -> Codec:
    return lambda images, qualities, subsampling: diff_jpeg(images, qualities, mode=mode, subsampling=subsampling)


def kornia_codec(images: torch.Tensor, qualities: torch.Tensor, subsampling: str) -> torch.Tensor:
    if subsampling != "4:2:0" or images.shape[1] != 3:
        raise NotImplementedError("kornia codes 4:2:0 RGB only")
    return jpeg_codec_differentiable(images, qualities)


CODECS: dict[str, Codec] = {"surrogate": ours("surrogate"), "ste": ours("ste"), "kornia": kornia_codec}


@dataclass
class Setting:
    """Images, a real codec to compare with, and the chroma layout of the differentiable codecs."""

    name: str
    images: list[np.ndarray]
    reference: Reference
    subsampling: str = "4:2:0"
    codecs: tuple[str, ...] = ("surrogate", "ste", "kornia")


def _run_chunk(name: str, image: torch.Tensor, qualities: Sequence[int], subsampling: str) -> torch.Tensor:
    """Code one image at several qualities in one batch. A quality kornia rejects gives NaNs (shown as n/a);
    errors of our codec propagate."""
    batch = image.expand(len(qualities), -1, -1, -1)
    quality = torch.tensor(qualities, dtype=torch.float32, device=image.device)
    try:
        return CODECS[name](batch, quality, subsampling)
    except Exception:
        if name != "kornia":
            raise
        if len(qualities) == 1:
            return torch.full_like(batch, float("nan"))
        return torch.cat([_run_chunk(name, image, [q], subsampling) for q in qualities])


@torch.no_grad()
def evaluate(setting: Setting, qualities: Sequence[int], device: torch.device, chunk: int) -> dict[str, dict]:
    """Per codec, the PSNR against the real codec ("psnr") and bit-exactness ("exact"), each (images, qualities)."""
    psnrs = {name: np.zeros((len(setting.images), len(qualities))) for name in setting.codecs}
    exact = {name: np.zeros((len(setting.images), len(qualities)), bool) for name in setting.codecs}
    for i, array in enumerate(setting.images):
        image = from_uint8(array).unsqueeze(0).to(device)
        references = torch.stack([from_uint8(setting.reference(array, q)) for q in qualities]).to(device)
        for name in setting.codecs:
            for start in range(0, len(qualities), chunk):
                part = slice(start, start + chunk)
                output = _run_chunk(name, image, qualities[part], setting.subsampling)
                psnrs[name][i, part] = psnr(output, references[part]).cpu().numpy()  # NaN stays NaN
                levels = torch.floor(output.double() * 255.0 + 0.5)
                same = levels == torch.round(references[part].double() * 255.0)
                exact[name][i, part] = same.flatten(1).all(1).cpu().numpy()
    return {"psnr": psnrs, "exact": exact}


def band_mean(values: np.ndarray, qualities: Sequence[int], band: Sequence[int]) -> float:
    """Mean of the (images, qualities) values over the qualities in ``band`` (NaN if none was run)."""
    columns = [j for j, q in enumerate(qualities) if q in band]
    selected = values[:, columns]
    return float(np.nanmean(selected)) if columns and not np.isnan(selected).all() else float("nan")


def main_table(psnrs: dict[str, np.ndarray], qualities: Sequence[int]) -> str:
    rows = [[name] + [band_mean(values, qualities, band) for band in BANDS.values()] for name, values in psnrs.items()]
    return format_table(["codec", *BANDS], rows)


def targets_table(psnrs: dict[str, np.ndarray], qualities: Sequence[int]) -> str:
    rows = []
    for name, values in psnrs.items():
        measured = [band_mean(values, qualities, BANDS[band]) for band in ("q 1-99", "q 1-10")]
        if name in TARGETS:
            goal = TARGETS[name]
            met = all(m >= g for m, g in zip(measured, goal, strict=True))
            status = "met" if met else "NOT MET"
            rows.append([f"{name} (ours)", *measured, f">= {goal[0]:.1f}", f">= {goal[1]:.1f}", status])
        else:
            rows.append([f"{name} (measured)", *measured, "", "", ""])
    rows += [[name, *figures, "", "", ""] for name, figures in REPORTED.items()]
    return format_table(["codec", "q 1-99", "q 1-10", "target 1-99", "target 1-10", "status"], rows)


def other_settings(quick: bool) -> list[Setting]:
    photos = list(load_photos(["astronaut"] if quick else PHOTOS).values())
    grays = [data.camera()] if quick else [data.camera(), data.coins()]
    settings = [
        Setting(f"{s} vs Pillow", photos, lambda a, q, s=s: np.array(pillow_jpeg(a, q, s)), s, ("surrogate", "ste"))
        for s in ("4:4:4", "4:2:2")
    ]
    settings.append(Setting("gray vs OpenCV", grays, opencv_jpeg, codecs=("surrogate", "ste")))
    settings += [
        Setting(f"{h}x{w} vs OpenCV", [center_crop(p, h, w) for p in photos], opencv_jpeg) for h, w in ODD_SIZES
    ]
    return settings


def plot(
    main: dict[str, np.ndarray], qualities: Sequence[int], others: dict[str, dict], subset: Sequence[int], photos: int
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    for name, values in main.items():
        left.plot(qualities, np.nanmean(values, axis=0), marker="." if len(qualities) < 20 else None, label=name)
    title = f"4:2:0 RGB vs OpenCV (mean of {photos} photo{'s' * (photos > 1)})"
    left.set(title=title, xlabel="JPEG quality", ylabel="PSNR (dB)")
    left.grid(alpha=0.3)
    left.legend()
    styles = {"surrogate": "-", "ste": "--", "kornia": ":"}
    shown = {name: result for name, result in others.items() if name not in TINY}
    for k, (setting, result) in enumerate(shown.items()):
        for name, values in result["psnr"].items():
            right.plot(
                subset, np.nanmean(values, axis=0), styles[name], color=f"C{k}", marker=".", label=f"{setting}, {name}"
            )
    right.set(
        title="other settings: solid surrogate, dashed ste, dotted kornia\n(5x3 and 1x1 in the table only)",
        xlabel="JPEG quality",
        ylabel="PSNR (dB)",
    )
    right.grid(alpha=0.3)
    right.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(RESULTS_DIR / "fidelity.png", dpi=120)
    plt.close(figure)


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--chunk", type=int, default=10, help="qualities coded in one batch (default 10)")
    args = parser.parse_args()
    device = setup(args.device)
    started = time.perf_counter()

    qualities = [1, 5, 10, 50, 99, 100] if args.quick else list(range(1, 101))
    subset = (1, 50, 99) if args.quick else SUBSET
    photos = list(load_photos(["astronaut"] if args.quick else PHOTOS).values())
    main_setting = Setting("4:2:0 vs OpenCV", photos, opencv_jpeg)
    main_result = evaluate(main_setting, qualities, device, args.chunk)["psnr"]

    scope = "astronaut only, qualities " + ", ".join(map(str, qualities)) if args.quick else "4 photos, every quality"
    print(f"PSNR (dB) against OpenCV's decode of OpenCV's encode, 4:2:0 RGB, {device.type} ({scope})\n")
    print(main_table(main_result, qualities))
    print("\nTargets of the issue (ours) and figures reported for peer implementations:\n")
    print(targets_table(main_result, qualities))

    others = {}
    for setting in other_settings(args.quick):
        others[setting.name] = evaluate(setting, subset, device, args.chunk)
    header = ["setting", "codec", "mean", *(f"q={q}" for q in subset), "exact"]
    rows = []
    for name, result in others.items():
        for codec, values in result["psnr"].items():
            exact = result["exact"][codec]
            rows.append(
                [
                    name,
                    codec,
                    float(np.nanmean(values)),
                    *np.nanmean(values, axis=0).tolist(),
                    f"{int(exact.sum())}/{exact.size}",
                ]
            )
    print(f"\nOther settings, PSNR (dB) at qualities {', '.join(map(str, subset))} (images: ", end="")
    print(
        "astronaut / camera" if args.quick else "4 photos / camera, coins; odd sizes: central crops of the photos",
        end="):\n\n",
    )
    print(format_table(header, rows, left=2))

    plot(main_result, qualities, others, subset, len(photos))
    print(f"\nPlot: {RESULTS_DIR / 'fidelity.png'}")
    print(f"Runtime: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
