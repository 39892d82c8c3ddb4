"""Fidelity of the differentiable JPEG codecs to the real codec (libjpeg-turbo), as PSNR in dB, and the
exactness of ``mode="exact"``.

Main table: 4:2:0 RGB. Each codec's output is compared with OpenCV's decode of OpenCV's encode
(``reference.opencv_jpeg``) of the same photo at the same quality; the PSNR (peak 1) is averaged over
the four skimage photos astronaut, coffee, chelsea and rocket (cropped to multiples of 16) and over
every integer quality of each band. Compared: our ``diff_jpeg`` in ``mode="surrogate"``, ``mode="ste"``
and ``mode="exact"``, and ``kornia.enhance.jpeg_codec_differentiable``. The figures reported for peer
implementations (the paper's official code) are printed next to them.

Second table, at the qualities 1, 5, 10, 25, 50, 75, 90, 95, 99 and 100: 4:4:4 and 4:2:2 against
Pillow (OpenCV 4.x writes them too, but Pillow is the second reference), grayscale (skimage camera and
coins) against OpenCV, and odd sizes (central crops of the four photos) against OpenCV 4:2:0. Its
"exact" column counts the (image, quality) pairs whose output, rounded to 8 bits, equals the
reference bit for bit. Identical images count as 100 dB in the means.

Exactness table, ``mode="exact"`` only, at every quality 1..100: the four photos in 4:2:0 and 4:4:4,
the central 77x101, 45x123, 5x3 and 1x1 crops of the four photos in 4:2:0 and 4:4:4, and grayscale
(camera, coins). The output rounded to 8 bits (``reference.to_uint8``) is compared value by value
(every channel of every pixel) with OpenCV's decode of OpenCV's encode and with Pillow's decode of
Pillow's encode of ``round(255 * image)``; the table gives the number of differing values and the
share of identical ones (rounded down, so that 100.000% means identical), the largest absolute
difference, the (image, quality) with the most differing values, and as a control how many values
OpenCV's and Pillow's outputs differ by from each other.

A plot of PSNR against quality goes to benchmarks/results/fidelity.png (``mode="exact"`` is left out
of it: identical images sit at the 100 dB cap).

Run:   python benchmarks/fidelity.py            (4 to 5 minutes on 2 CPU cores)
       python benchmarks/fidelity.py --quick    (one photo, a few qualities; about 10 s)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from _common import RESULTS_DIR, format_table, make_parser, setup
from kornia.enhance import jpeg_codec_differentiable
from skimage import data
from tqdm import tqdm

from kornia_diffjpeg import diff_jpeg
from testing.datasets import BENCHMARK_PHOTOS as PHOTOS
from testing.datasets import center_crop, load_photos
from testing.metrics import psnr
from testing.reference import from_uint8, opencv_jpeg, pillow_jpeg

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
SMALL_PIXELS = 128 * 128  # images up to this size are coded at all their qualities in one batch
TINY = ("5x3 vs OpenCV", "1x1 vs OpenCV")  # left out of the plot: mostly identical to OpenCV (100 dB)
REPORTED = {  # (q 1-99, q 1-10) reported for peer implementations
    "official surrogate (reported)": (43.62, 39.00),
    "official STE (reported)": (44.18, 41.70),
    "kornia (reported)": (42.16, 35.45),
}
OURS = ("surrogate", "ste", "exact")
PLOTTED = ("surrogate", "ste", "kornia")


def ours(mode: str) -> Codec:
    return lambda images, qualities, subsampling: diff_jpeg(images, qualities, mode=mode, subsampling=subsampling)


def kornia_codec(images: torch.Tensor, qualities: torch.Tensor, subsampling: str) -> torch.Tensor:
    if subsampling != "4:2:0" or images.shape[1] != 3:
        raise NotImplementedError("kornia codes 4:2:0 RGB only")
    return jpeg_codec_differentiable(images, qualities)


CODECS: dict[str, Codec] = {**{mode: ours(mode) for mode in OURS}, "kornia": kornia_codec}


def opencv(subsampling: str) -> Reference:
    return lambda array, quality: opencv_jpeg(array, quality, subsampling)


def pillow(subsampling: str) -> Reference:
    return lambda array, quality: np.array(pillow_jpeg(array, quality, subsampling))


def both_references(subsampling: str, first: str = "OpenCV") -> dict[str, Reference]:
    references = {"OpenCV": opencv(subsampling), "Pillow": pillow(subsampling)}
    return dict(sorted(references.items(), key=lambda item: item[0] != first))


@dataclass
class Setting:
    """Images, the real codecs to compare with (PSNR against the first), the chroma layout of the
    differentiable codecs, and the qualities each codec runs at."""

    name: str
    images: dict[str, np.ndarray]
    references: dict[str, Reference]
    codecs: dict[str, Sequence[int]]
    subsampling: str = "4:2:0"
    exactness: str | None = None  # the row's name in the exactness table, if the setting has one


@dataclass
class Result:
    """One codec in one setting; arrays are (images, qualities)."""

    qualities: list[int]
    psnr: np.ndarray  # against the first reference
    differing: dict[str, np.ndarray]  # per reference: values (channels x pixels) that differ in 8 bits
    largest: dict[str, np.ndarray]  # per reference: the largest absolute difference in 8 bits
    values: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # values per image (images,)

    def columns(self, qualities: Sequence[int]) -> list[int]:
        return [self.qualities.index(q) for q in qualities]

    def exact(self, qualities: Sequence[int]) -> np.ndarray:
        """Whether each (image, quality) is identical in 8 bits to the first reference."""
        return next(iter(self.differing.values()))[:, self.columns(qualities)] == 0


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


def to_levels(images: torch.Tensor) -> torch.Tensor:
    """Float images in [0, 1] to their 8-bit values as ``reference.to_uint8`` rounds them (NaN stays NaN)."""
    return torch.floor(images.double() * 255.0 + 0.5).clamp(0.0, 255.0)


def as_tensor(array: np.ndarray) -> torch.Tensor:
    """A uint8 (H, W[, C]) array to a uint8 tensor (C, H, W)."""
    tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor.unsqueeze(0) if tensor.ndim == 2 else tensor.permute(2, 0, 1)


@torch.no_grad()
def evaluate(
    setting: Setting, device: torch.device, chunk: int, per_image: bool = False
) -> tuple[dict[str, Result], dict[int, np.ndarray]]:
    """Per codec, its ``Result``; and per quality, the values (per image) in which the first two
    references differ from each other. ``per_image`` prints each image's mean PSNR as it is done."""
    count = len(setting.images)
    results = {
        name: Result(
            list(qualities),
            np.zeros((count, len(qualities))),
            {ref: np.zeros((count, len(qualities)), np.int64) for ref in setting.references},
            {ref: np.zeros((count, len(qualities)), np.int64) for ref in setting.references},
            np.zeros(count, np.int64),
        )
        for name, qualities in setting.codecs.items()
    }
    all_qualities = sorted({q for qualities in setting.codecs.values() for q in qualities})
    between = {q: np.zeros(count, np.int64) for q in all_qualities}
    progress = tqdm(list(setting.images.items()), desc=setting.name, unit="image", leave=False)
    for i, (image_name, array) in enumerate(progress):
        progress.set_postfix_str(image_name)
        image = from_uint8(array).unsqueeze(0).to(device)
        references = {
            ref: {q: as_tensor(fn(array, q)) for q in all_qualities} for ref, fn in setting.references.items()
        }
        if len(references) > 1:
            first, second = list(references.values())[:2]
            for q in all_qualities:
                between[q][i] = int((first[q] != second[q]).sum())
        step = len(all_qualities) if array.shape[0] * array.shape[1] <= SMALL_PIXELS else chunk
        for name, result in results.items():
            result.values[i] = image.numel()
            for start in range(0, len(result.qualities), step):
                part = slice(start, start + step)
                qualities = result.qualities[part]
                output = _run_chunk(name, image, qualities, setting.subsampling)
                levels = to_levels(output).cpu()
                for k, (ref, by_quality) in enumerate(references.items()):
                    expected = torch.stack([by_quality[q] for q in qualities]).double()
                    if k == 0:
                        result.psnr[i, part] = psnr(output.cpu(), expected / 255.0).numpy()  # NaN stays NaN
                    difference = (levels - expected).abs().nan_to_num(nan=255.0).flatten(1)
                    result.differing[ref][i, part] = (difference > 0).sum(1).numpy()
                    result.largest[ref][i, part] = difference.amax(1).numpy()
        if per_image:
            means = ", ".join(f"{name} {np.nanmean(result.psnr[i]):.2f}" for name, result in results.items())
            tqdm.write(f"  {image_name}: mean PSNR (dB) over its qualities: {means}")
    return results, between


def band_mean(values: np.ndarray, qualities: Sequence[int], band: Sequence[int]) -> float:
    """Mean of the (images, qualities) values over the qualities in ``band`` (NaN if none was run)."""
    columns = [j for j, q in enumerate(qualities) if q in band]
    selected = values[:, columns]
    return float(np.nanmean(selected)) if columns and not np.isnan(selected).all() else float("nan")


def main_table(results: dict[str, Result]) -> str:
    rows = [[name] + [band_mean(r.psnr, r.qualities, band) for band in BANDS.values()] for name, r in results.items()]
    return format_table(["codec", *BANDS], rows)


def peers_table(results: dict[str, Result]) -> str:
    """Our measured band means next to the figures reported for peer implementations."""
    rows = []
    for name, result in results.items():
        measured = [band_mean(result.psnr, result.qualities, BANDS[band]) for band in ("q 1-99", "q 1-10")]
        rows.append([f"{name} ({'ours' if name in OURS else 'measured'})", *measured])
    rows += [[name, *figures] for name, figures in REPORTED.items()]
    return format_table(["codec", "q 1-99", "q 1-10"], rows)


def other_settings(photos: dict[str, np.ndarray], grays: dict[str, np.ndarray], subset, every) -> list[Setting]:
    """The settings of the second table (``subset`` qualities) and those of the exactness table (``every``)."""
    settings = [
        Setting(
            "4:4:4 vs Pillow",
            photos,
            both_references("4:4:4", first="Pillow"),
            {"surrogate": subset, "ste": subset, "exact": every},
            "4:4:4",
            "photos 4:4:4",
        ),
        Setting("4:2:2 vs Pillow", photos, {"Pillow": pillow("4:2:2")}, dict.fromkeys(OURS, subset), "4:2:2"),
        Setting(
            "gray vs OpenCV",
            grays,
            both_references("4:2:0"),
            {"surrogate": subset, "ste": subset, "exact": every},
            exactness=f"gray ({', '.join(grays)})",
        ),
    ]
    for h, w in ODD_SIZES:
        crops = {name: center_crop(photo, h, w) for name, photo in photos.items()}
        codecs = {"surrogate": subset, "ste": subset, "exact": every, "kornia": subset}
        settings.append(
            Setting(f"{h}x{w} vs OpenCV", crops, both_references("4:2:0"), codecs, exactness=f"{h}x{w} 4:2:0")
        )
        settings.append(
            Setting(
                f"{h}x{w} 4:4:4", crops, both_references("4:4:4"), {"exact": every}, "4:4:4", exactness=f"{h}x{w} 4:4:4"
            )
        )
    return settings


def other_table(others: dict[str, Setting], results: dict[str, dict[str, Result]], subset: Sequence[int]) -> str:
    header = ["setting", "codec", "mean", *(f"q={q}" for q in subset), "exact"]
    rows = []
    for name, setting in others.items():
        if setting.exactness is not None and set(setting.codecs) == {"exact"}:
            continue  # exactness table only
        for codec, result in results[name].items():
            values = result.psnr[:, result.columns(subset)]
            exact = result.exact(subset)
            means = np.nanmean(values, axis=0).tolist()
            rows.append([name, codec, float(np.nanmean(values)), *means, f"{int(exact.sum())}/{exact.size}"])
    return format_table(header, rows, left=2)


def percent_identical(differing: int, total: int) -> str:
    """The share of identical values, rounded down to 0.001% so that only identical data reads 100.000%."""
    return f"{math.floor(100_000 * (total - differing) / total) / 1000:.3f}%"


def exactness_row(label: str, setting: Setting, result: Result, between: dict[int, np.ndarray]) -> list:
    names = list(setting.images)
    values = int(result.values.sum()) * len(result.qualities)
    row: list[object] = [label, len(names), len(result.qualities), values]
    total = 0
    for ref in ("OpenCV", "Pillow"):
        differing = result.differing[ref]
        total += int(differing.sum())
        row += [int(differing.sum()), percent_identical(int(differing.sum()), values), int(result.largest[ref].max())]
    both = result.differing["OpenCV"] + result.differing["Pillow"]
    if both.max() > 0:
        i, j = np.unravel_index(int(both.argmax()), both.shape)
        row.append(f"{names[i]} q={result.qualities[j]}")
    else:
        row.append("-")
    row.append(int(sum(between[q].sum() for q in result.qualities)))
    return row


def exactness_table(labelled: list[tuple[str, Setting, Result, dict[int, np.ndarray]]]) -> tuple[str, int]:
    header = [
        "mode='exact'",
        "images",
        "qualities",
        "values",
        "differ vs OpenCV",
        "identical",
        "max|d|",
        "differ vs Pillow",
        "identical",
        "max|d|",
        "most differing",
        "OpenCV!=Pillow",
    ]
    rows = [exactness_row(*entry) for entry in labelled]
    differing = sum(row[4] + row[7] for row in rows)
    values = sum(row[3] for row in rows)
    rows.append(
        [
            "all",
            "",
            "",
            values,
            sum(row[4] for row in rows),
            percent_identical(sum(row[4] for row in rows), values),
            max(row[6] for row in rows),
            sum(row[7] for row in rows),
            percent_identical(sum(row[7] for row in rows), values),
            max(row[9] for row in rows),
            "",
            sum(row[11] for row in rows),
        ]
    )
    return format_table(header, rows), differing


def plot(main: dict[str, Result], others: dict[str, dict[str, Result]], subset: Sequence[int], photos: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    for name, result in main.items():
        if name in PLOTTED:
            marker = "." if len(result.qualities) < 20 else None
            left.plot(result.qualities, np.nanmean(result.psnr, axis=0), marker=marker, label=name)
    title = f"4:2:0 RGB vs OpenCV (mean of {photos} photo{'s' * (photos > 1)}; exact mode not drawn)"
    left.set(title=title, xlabel="JPEG quality", ylabel="PSNR (dB)")
    left.grid(alpha=0.3)
    left.legend()
    styles = {"surrogate": "-", "ste": "--", "kornia": ":"}
    shown = {name: results for name, results in others.items() if name not in TINY and set(results) & set(PLOTTED)}
    for k, (setting, results) in enumerate(shown.items()):
        for name, result in results.items():
            if name in PLOTTED:
                values = result.psnr[:, result.columns(subset)]
                label = f"{setting}, {name}"
                right.plot(subset, np.nanmean(values, axis=0), styles[name], color=f"C{k}", marker=".", label=label)
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
    photos = load_photos(["astronaut"] if args.quick else PHOTOS)
    grays = {"camera": data.camera()} if args.quick else {"camera": data.camera(), "coins": data.coins()}
    main_setting = Setting(
        "4:2:0 vs OpenCV", photos, both_references("4:2:0"), dict.fromkeys(CODECS, qualities), exactness="photos 4:2:0"
    )
    main_results, main_between = evaluate(main_setting, device, args.chunk, per_image=True)

    scope = "astronaut only, qualities " + ", ".join(map(str, qualities)) if args.quick else "4 photos, every quality"
    print(f"PSNR (dB) against OpenCV's decode of OpenCV's encode, 4:2:0 RGB, {device.type} ({scope})\n")
    print(main_table(main_results))
    print("\nMeasured here and reported for peer implementations:\n")
    print(peers_table(main_results), flush=True)

    settings = {setting.name: setting for setting in other_settings(photos, grays, subset, qualities)}
    others, betweens = {}, {}
    for name, setting in settings.items():
        others[name], betweens[name] = evaluate(setting, device, args.chunk)
        means = ", ".join(f"{codec} {np.nanmean(result.psnr):.2f}" for codec, result in others[name].items())
        print(f"{name}: mean PSNR (dB) {means}", flush=True)
    print(f"\nOther settings, PSNR (dB) at qualities {', '.join(map(str, subset))} (images: ", end="")
    print(
        "astronaut / camera" if args.quick else "4 photos / camera, coins; odd sizes: central crops of the photos",
        end="):\n\n",
    )
    print(other_table(settings, others, subset))

    labelled = [("photos 4:2:0", main_setting, main_results["exact"], main_between)]
    labelled += [
        (setting.exactness, setting, others[name]["exact"], betweens[name])
        for name, setting in settings.items()
        if setting.exactness is not None
    ]
    order = ["photos 4:2:0", "photos 4:4:4"] + [f"{h}x{w} {s}" for h, w in ODD_SIZES for s in ("4:2:0", "4:4:4")]
    labelled.sort(key=lambda entry: order.index(entry[0]) if entry[0] in order else len(order))
    table, differing = exactness_table(labelled)
    scope = (
        f"astronaut and camera at qualities {', '.join(map(str, qualities))}"
        if args.quick
        else "every quality 1..100; photos: astronaut, coffee, chelsea, rocket; odd sizes: their central crops"
    )
    print(
        "\nExactness of mode='exact': 8-bit values (channels x pixels) that differ from libjpeg-turbo's output, "
        f"OpenCV's and Pillow's ({scope}):\n"
    )
    print(table)
    print(f"\nmode='exact': {differing} differing 8-bit values in total, against OpenCV and Pillow")

    plot(main_results, others, subset, len(photos))
    print(f"\nPlot: {RESULTS_DIR / 'fidelity.png'}")
    print(f"Runtime: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
