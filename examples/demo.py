"""Differentiable JPEG on real photos, next to the real codec (libjpeg-turbo through OpenCV).

Codes skimage's astronaut and chelsea photos at qualities 5, 25, 50 and 90 with ``diff_jpeg`` in its
three modes, ``"surrogate"`` (smooth forward and backward), ``"ste"`` (true rounding forward,
surrogate gradient backward) and ``"exact"`` (libjpeg-turbo's output, surrogate gradients), and
prints the PSNR of each against OpenCV's decode of OpenCV's encode;
the PSNR of OpenCV's own output against the original gives the scale of the JPEG distortion. It then
prints the derivative of the coding error with respect to the quality next to the real codec's
finite difference, and writes a figure to
examples/output/comparison.png: one row per quality, columns OpenCV, each mode and the absolute
difference of each mode to OpenCV, on a detail of one photo.

Run:   python examples/demo.py                  (a few seconds)
       python examples/demo.py --image chelsea  (the photo shown in the figure)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from skimage import data

from kornia_diffjpeg import diff_jpeg
from testing.metrics import psnr
from testing.reference import from_uint8, opencv_jpeg

OUTPUT = Path(__file__).resolve().parent / "output" / "comparison.png"
QUALITIES = (5, 25, 50, 90)
MODES = ("surrogate", "ste", "exact")
DETAILS = {"astronaut": (40, 150), "chelsea": (60, 150)}  # top-left corner of the 160x160 detail shown
DETAIL = 160


def code(photo: np.ndarray) -> dict[int, dict[str, torch.Tensor]]:
    """The photo coded at each quality by OpenCV and by each mode of ``diff_jpeg``, as (3, H, W) in [0, 1]."""
    image = from_uint8(photo)
    batch = image.expand(len(QUALITIES), -1, -1, -1)  # one quality per batch element
    quality = torch.tensor(QUALITIES, dtype=torch.float32)
    with torch.no_grad():
        coded = {mode: diff_jpeg(batch, quality, mode=mode) for mode in MODES}
    return {
        q: {"original": image, "OpenCV": from_uint8(opencv_jpeg(photo, q)), **{m: coded[m][i] for m in MODES}}
        for i, q in enumerate(QUALITIES)
    }


def print_header() -> None:
    print("PSNR (dB) of each mode against OpenCV's decode of OpenCV's encode (4:2:0)\n")
    print(f"{'photo':<10} {'quality':>7} {'OpenCV vs original':>19}" + "".join(f"{m:>11}" for m in MODES))
    print("-" * (37 + 11 * len(MODES)), flush=True)


def print_rows(name: str, per_quality: dict[int, dict[str, torch.Tensor]]) -> None:
    """The table's rows of one photo, printed as soon as it is coded."""
    for q, images in per_quality.items():
        reference = images["OpenCV"]
        cells = "".join(f"{psnr(images[m], reference):>11.2f}" for m in MODES)  # inf: identical pixels
        print(f"{name:<10} {q:>7} {psnr(reference, images['original']):>19.2f}{cells}", flush=True)


def show_gradients(photo: np.ndarray, qualities: tuple[int, ...] = (10, 50)) -> None:
    """d MSE(coded, original) / d quality by autograd in each mode, next to the real codec's finite difference."""
    image = from_uint8(photo)[None]
    rows = {}
    for mode in MODES:
        quality = torch.tensor([float(q) for q in qualities], requires_grad=True)
        coded = diff_jpeg(image.expand(len(qualities), -1, -1, -1), quality, mode=mode)
        (coded - image).square().mean(dim=(1, 2, 3)).sum().backward()
        rows[f"{mode} (autograd)"] = quality.grad.tolist()

    def mse(q: int) -> float:
        return float((from_uint8(opencv_jpeg(photo, q)).double() - image[0].double()).square().mean())

    rows["OpenCV, (MSE(q+1) - MSE(q-1)) / 2"] = [(mse(q + 1) - mse(q - 1)) / 2.0 for q in qualities]
    print("\nd MSE(coded, original) / d quality, astronaut:\n")
    print(f"{'':<36}" + "".join(f"{f'q={q}':>11}" for q in qualities))
    for name, values in rows.items():
        print(f"{name:<36}" + "".join(f"{value:>+11.2e}" for value in values))


def plot(per_quality: dict[int, dict[str, torch.Tensor]], name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top, left = DETAILS[name]
    window = (slice(None), slice(top, top + DETAIL), slice(left, left + DETAIL))
    columns = ["OpenCV", *MODES, *(f"|{m} - OpenCV|" for m in MODES)]
    figure, axes = plt.subplots(
        len(per_quality), len(columns), figsize=(2.4 * len(columns) + 1.0, 2.5 * len(per_quality)), layout="constrained"
    )
    for row, (q, images) in enumerate(per_quality.items()):
        reference = images["OpenCV"]
        for col, title in enumerate(columns):
            axis = axes[row, col]
            if title in MODES:
                axis.imshow(images[title][window].permute(1, 2, 0).clamp(0, 1).numpy())
                axis.set_title(f"{title}, {psnr(images[title], reference):.1f} dB", fontsize=9)
            elif title == "OpenCV":
                axis.imshow(reference[window].permute(1, 2, 0).numpy())
                axis.set_title(f"OpenCV, quality {q}", fontsize=9)
            else:
                mode = title[1:].split(" ")[0]
                levels = (images[mode] - reference)[window].abs().amax(0) * 255.0  # in 8-bit levels
                shown = axis.imshow(levels.numpy(), cmap="magma", vmin=0.0, vmax=8.0)
                axis.set_title(title, fontsize=9)
            axis.set_xticks([])
            axis.set_yticks([])
    figure.colorbar(shown, ax=axes, shrink=0.5, label="|difference| in 8-bit levels (max over RGB)")
    figure.suptitle(f"{name}: detail {DETAIL}x{DETAIL}; PSNR against OpenCV over the whole photo")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(OUTPUT, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", choices=sorted(DETAILS), default="astronaut", help="photo shown in the figure")
    args = parser.parse_args()
    torch.set_num_threads(2)

    photos = {name: getattr(data, name)() for name in DETAILS}
    print_header()
    results = {}
    for name, photo in photos.items():
        results[name] = code(photo)
        print_rows(name, results[name])
    show_gradients(photos["astronaut"])
    plot(results[args.image], args.image)
    print(f"\nFigure: {OUTPUT}")


if __name__ == "__main__":
    main()
