"""Speed and memory of the differentiable JPEG codecs against kornia's, float32, 2 CPU threads.

For a batch of 16x3x224x224 photos (skimage photos resized, one quality per image, 10 to 90):

* forward: median time of one call, inputs without ``requires_grad`` (the codecs take turns, run after run,
  so that the load of other processes on a shared machine spreads over all of them);
* forward+backward: median time of a call and the backward pass of the output's sum, with gradients
  with respect to the image and the per-image quality (both ``requires_grad``);
* peak memory of forward+backward beyond the inputs (see benchmarks/_common.py for how it is measured);

for our ``diff_jpeg`` in ``mode="surrogate"``, ``mode="ste"`` and ``mode="exact"`` (4:2:0) and for
``kornia.enhance.jpeg_codec_differentiable``, with the ratio of each to kornia's. The same is measured
for forward+backward on 2x3x1024x1024. For scale, the real codec: OpenCV encode+decode of the same
images as uint8, one after the other. The issue's targets are checked at the end.

``mode="exact"`` computes libjpeg-turbo's integer result and, when gradients are needed, the surrogate
mode's smooth face for them: its forward (inputs without ``requires_grad``) runs the integer pipeline
only, its forward+backward both.

Run:   python benchmarks/speed.py            (about 2 minutes on 2 CPU cores)
       python benchmarks/speed.py --quick    (fewer repeats)
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from _common import (
    THREADS,
    format_table,
    interleaved_median_ms,
    make_parser,
    median_ms,
    peak_memory_bytes,
    setup,
)
from kornia.enhance import jpeg_codec_differentiable

from kornia_diffjpeg import diff_jpeg
from testing.datasets import load_photos
from testing.reference import opencv_jpeg, to_uint8

Codec = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

CODECS: dict[str, Codec] = {
    "surrogate": lambda image, quality: diff_jpeg(image, quality, mode="surrogate"),
    "ste": lambda image, quality: diff_jpeg(image, quality, mode="ste"),
    "exact": lambda image, quality: diff_jpeg(image, quality, mode="exact"),
    "kornia": jpeg_codec_differentiable,
}
# Targets of the issue for mode="surrogate": speed-up over kornia and memory relative to kornia's.
MIN_SPEEDUP, MAX_MEMORY_RATIO = 3.0, 0.5
# Target of the issue for mode="exact": forward+backward at most this times the surrogate mode's (and faster
# than kornia's).
MAX_EXACT_SLOWDOWN = 2.0


def photo_batch(batch: int, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` RGB photos resized to size x size, and one quality per image from 10 to 90."""
    photos = [torch.from_numpy(p).permute(2, 0, 1).float() / 255.0 for p in load_photos().values()]
    images = [
        F.interpolate(photos[i % len(photos)][None], size=(size, size), mode="bilinear", antialias=True)
        for i in range(batch)
    ]
    quality = torch.linspace(10.0, 90.0, batch).round()
    return torch.cat(images).clamp(0.0, 1.0).to(device), quality.to(device)


def forward_backward(codec: Codec, image: torch.Tensor, quality: torch.Tensor) -> Callable[[], None]:
    """A step coding ``image`` and back-propagating to the image and the quality."""
    image = image.clone().requires_grad_(True)
    quality = quality.clone().requires_grad_(True)

    def step() -> None:
        codec(image, quality).sum().backward()
        image.grad = quality.grad = None

    return step


def measure(image: torch.Tensor, quality: torch.Tensor, repeats: int, with_forward: bool) -> dict[str, dict]:
    """Per codec: median times (ms) of forward and forward+backward, the codecs taking turns, and the peak
    memory (MiB) of forward+backward."""
    device = image.device
    steps = {name: forward_backward(codec, image, quality) for name, codec in CODECS.items()}
    results: dict[str, dict] = {name: {} for name in CODECS}
    if with_forward:
        forwards = {name: (lambda codec=codec: codec(image, quality)) for name, codec in CODECS.items()}
        for name, ms in interleaved_median_ms(forwards, device, repeats).items():
            results[name]["forward"] = ms
    for name, ms in interleaved_median_ms(steps, device, repeats).items():
        results[name]["forward+backward"] = ms
    for name, step in steps.items():
        results[name]["peak MiB"] = peak_memory_bytes(step, device) / 2**20
    return results


def real_codec_ms(image: torch.Tensor, quality: torch.Tensor, repeats: int) -> float:
    """Median time of OpenCV encode+decode of the batch as uint8 images, one after the other."""
    arrays = [to_uint8(picture) for picture in image.cpu()]
    qualities = [int(q) for q in quality.tolist()]

    def loop() -> None:
        for array, q in zip(arrays, qualities, strict=True):
            opencv_jpeg(array, q)

    return median_ms(loop, torch.device("cpu"), repeats)


def report(shape: str, title: str, results: dict[str, dict], opencv_ms: float) -> str:
    """A table of the measurements with each one's ratio to kornia's."""
    columns = list(results["kornia"])
    header = ["codec"]
    for column in columns:
        header += [f"{column} ms" if column != "peak MiB" else column, "/ kornia"]
    rows = []
    for name, result in results.items():
        row = [name]
        for column in columns:
            ratio = result[column] / results["kornia"][column]
            row += [result[column], f"{ratio:.2f}x"]
        rows.append(row)
    lines = [title, "", format_table(header, rows, floatfmt=".1f")]
    lines.append(f"\nReal codec for scale (OpenCV encode+decode of the {shape} batch as uint8): {opencv_ms:.1f} ms")
    return "\n".join(lines)


def targets(results: dict[str, dict]) -> str:
    surrogate, exact, kornia = results["surrogate"], results["exact"], results["kornia"]
    rows = []

    def check(name: str, value: float, goal: str, met: bool) -> None:
        rows.append([name, f"{value:.2f}x", goal, "met" if met else "NOT MET"])

    for column in ("forward", "forward+backward"):
        speedup = kornia[column] / surrogate[column]
        goal = f">= {MIN_SPEEDUP:.1f}x"
        check(f"surrogate {column}: kornia time / surrogate time", speedup, goal, speedup >= MIN_SPEEDUP)
    ratio = surrogate["peak MiB"] / kornia["peak MiB"]
    check("surrogate peak memory: surrogate / kornia", ratio, f"<= {MAX_MEMORY_RATIO:.1f}x", ratio <= MAX_MEMORY_RATIO)
    column = "forward+backward"
    slowdown = exact[column] / surrogate[column]
    goal = f"<= {MAX_EXACT_SLOWDOWN:.1f}x"
    check(f"exact {column}: exact time / surrogate time", slowdown, goal, slowdown <= MAX_EXACT_SLOWDOWN)
    speedup = kornia[column] / exact[column]
    check(f"exact {column}: kornia time / exact time", speedup, "> 1.0x", speedup > 1.0)
    return format_table(["target of the issue (16x3x224x224)", "measured", "target", "status"], rows)


def main() -> None:
    args = make_parser(__doc__).parse_args()
    device = setup(args.device)
    started = time.perf_counter()
    repeats = (3, 2) if args.quick else (25, 10)
    cases = [("16x3x224x224", 16, 224, repeats[0], True), ("2x3x1024x1024", 2, 1024, repeats[1], False)]

    small = None
    for shape, batch, size, count, with_forward in cases:
        image, quality = photo_batch(batch, size, device)
        results = measure(image, quality, count, with_forward)
        load = os.getloadavg()[0]
        heading = (
            f"{shape} float32 on {device.type}, {THREADS} threads, median of {count} runs (load average {load:.1f})"
        )
        print(report(shape, heading, results, real_codec_ms(image, quality, count)), end="\n\n")
        small = small or results
    print(targets(small))
    print(f"\nRuntime: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
