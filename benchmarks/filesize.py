"""JPEG file size: the exact byte count against the real encoders, its speed, and the file-size models.

Sections, in order:

* exact count: ``jpeg_file_size`` against ``len(cv2.imencode(...))`` and the length of Pillow's output,
  as the number of files whose sizes differ:
  - the scikit-image photos, every quality 1..100, 4:2:0, 4:2:2, 4:4:4 and grayscale, standard and
    optimized Huffman tables (OpenCV and Pillow);
  - random crops of odd sizes (1 to 301 px a side), random quality, layout and ``optimize``;
  - random custom tables uniform in [1, 255] (or [1, 8], [1, 40]) on random crops (Pillow; OpenCV
    takes no tables).
* timing: sizing a batch of 16 224x224 photo crops with the exact count (from the images, and from
  coefficients already computed) against encoding them with OpenCV (``cv2.imencode`` one by one).
* smooth estimate and regressor: ``benchmarks/_filesize_models.py``.

Run:   nice python benchmarks/filesize.py            (several minutes on 2 CPU cores)
       python benchmarks/filesize.py --quick         (a small subset, under a minute)
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import numpy as np
import torch
from _common import format_table, interleaved_median_ms, make_parser, setup
from _filesize_models import estimate_section, regressor_section

from kornia_diffjpeg import jpeg_encode, jpeg_file_size
from testing.datasets import layout_photos, layout_subsampling, load_photos, odd_crop_cases
from testing.reference import from_uint8, opencv_encode, pillow_encode

LAYOUTS = ("4:2:0", "4:2:2", "4:4:4", "grayscale")
CHUNK = 10  # qualities sized per call (memory of a batch of full photos)


def _mismatches(array: np.ndarray, ours: int, subsampling: str, optimize: bool, **settings) -> tuple[int, int]:
    """(OpenCV, Pillow) mismatch counts (0 or 1) of one file; OpenCV only for qualities."""
    pillow = len(pillow_encode(array, subsampling=subsampling, optimize=optimize, **settings))
    if settings.get("qtables") is not None:
        return 0, int(ours != pillow)
    opencv = len(opencv_encode(array, settings["quality"], subsampling, optimize=optimize))
    return int(ours != opencv), int(ours != pillow)


def _photo_rows(args: argparse.Namespace, device: torch.device) -> Iterator[list[object]]:
    qualities = [1, 25, 50, 75, 90, 100] if args.quick else list(range(1, 101))
    for layout in LAYOUTS:
        subsampling = layout_subsampling(layout)
        for optimize in (False, True):
            files = opencv_bad = pillow_bad = 0
            for array in layout_photos(layout, args.quick).values():
                image = from_uint8(array).to(device)
                for i in range(0, len(qualities), CHUNK):
                    chunk = qualities[i : i + CHUNK]
                    batch = image.expand(len(chunk), -1, -1, -1)
                    quality = torch.tensor(chunk, dtype=torch.float32, device=device)
                    sizes = jpeg_file_size(batch, quality, subsampling=subsampling, optimize=optimize).tolist()
                    for q, size in zip(chunk, sizes, strict=True):
                        cv_bad, pil_bad = _mismatches(array, size, subsampling, optimize, quality=q)
                        files, opencv_bad, pillow_bad = files + 1, opencv_bad + cv_bad, pillow_bad + pil_bad
            yield [f"photos, q {qualities[0]}-{qualities[-1]}", layout, optimize, files, opencv_bad, pillow_bad]


def _crop_rows(args: argparse.Namespace, device: torch.device) -> Iterator[list[object]]:
    rng = np.random.default_rng(0)
    count = 10 if args.quick else 100
    for tables in (False, True):
        for layout in LAYOUTS:
            subsampling = layout_subsampling(layout)
            files = opencv_bad = pillow_bad = 0
            for array, optimize, quality, pair in odd_crop_cases(rng, layout, count, tables):
                image = from_uint8(array).to(device)
                if pair is not None:
                    qt_y, qt_c = (torch.from_numpy(t).float() for t in pair)
                    size = int(
                        jpeg_file_size(image, qt_y=qt_y.to(device), qt_c=qt_c.to(device), **_kw(subsampling, optimize))
                    )
                    qtables = [qt_y.numpy(), qt_c.numpy()][: 1 if layout == "grayscale" else 2]
                    bad = _mismatches(array, size, subsampling, optimize, qtables=qtables)
                else:
                    assert quality is not None
                    size = int(jpeg_file_size(image, float(quality), **_kw(subsampling, optimize)))
                    bad = _mismatches(array, size, subsampling, optimize, quality=quality)
                files, opencv_bad, pillow_bad = files + 1, opencv_bad + bad[0], pillow_bad + bad[1]
            what = "odd crops, random tables" if tables else "odd crops, random q"
            yield [what, layout, "random", files, None if tables else opencv_bad, pillow_bad]


def _kw(subsampling: str, optimize: bool) -> dict[str, object]:
    return {"subsampling": subsampling, "optimize": optimize}


def exact_count_section(args: argparse.Namespace, device: torch.device) -> int:
    """Print the mismatch table; return the total number of mismatching files."""
    print("== exact count: files whose size differs from the real encoder's ==", flush=True)
    header = ["images", "layout", "optimize", "files", "OpenCV mismatches", "Pillow mismatches"]
    rows = []
    for row in (*_photo_rows(args, device), *_crop_rows(args, device)):  # generators: a row at a time
        rows.append(row)
        print("  " + ", ".join(f"{name} {value}" for name, value in zip(header, row, strict=True)), flush=True)
    print(format_table(header, rows, left=3))
    total = sum(sum(v for v in row[4:] if v is not None) for row in rows)
    print(f"total files: {sum(row[3] for row in rows)}, mismatching: {total}\n")
    return total


def timing_section(args: argparse.Namespace, device: torch.device) -> None:
    """Median time to size 16 224x224 photo crops: the exact count vs encoding with OpenCV."""
    print("== timing: sizes of 16 224x224 photo crops (4:2:0, qualities 10..90) ==")
    rng = np.random.default_rng(0)
    photos = list(load_photos().values())
    arrays = []
    for i in range(16):
        array = photos[i % len(photos)]
        top, left = int(rng.integers(array.shape[0] - 223)), int(rng.integers(array.shape[1] - 223))
        arrays.append(np.ascontiguousarray(array[top : top + 224, left : left + 224]))
    qualities = [int(q) for q in np.linspace(10, 90, 16)]
    images = torch.stack([from_uint8(a) for a in arrays]).to(device)
    quality = torch.tensor(qualities, dtype=torch.float32, device=device)
    coefficients = jpeg_encode(images, quality, mode="exact")
    fns = {
        "jpeg_file_size(images)": lambda: jpeg_file_size(images, quality),
        "jpeg_file_size(images, optimize=True)": lambda: jpeg_file_size(images, quality, optimize=True),
        "jpeg_file_size(coefficients)": lambda: jpeg_file_size(coefficients),
        "OpenCV cv2.imencode, 16 calls": lambda: [
            len(opencv_encode(a, q)) for a, q in zip(arrays, qualities, strict=True)
        ],
        "OpenCV cv2.imencode optimize, 16 calls": lambda: [
            len(opencv_encode(a, q, optimize=True)) for a, q in zip(arrays, qualities, strict=True)
        ],
    }
    times = interleaved_median_ms(fns, device, repeats=3 if args.quick else 15)
    opencv = times["OpenCV cv2.imencode, 16 calls"]
    rows = [[name, ms, ms / opencv] for name, ms in times.items()]
    print(format_table(["method", "median ms", "x OpenCV"], rows))
    print(f"(device {device}, {torch.get_num_threads()} torch threads; OpenCV encodes on the CPU)\n")


def main() -> None:
    parser = make_parser(__doc__)
    args = parser.parse_args()
    device = setup(args.device)
    mismatches = exact_count_section(args, device)
    timing_section(args, device)
    estimate_section(args)
    regressor_section(args)
    print(f"exact count: {mismatches} mismatching files")


if __name__ == "__main__":
    main()
