"""Real JPEG files: ``encode_jpeg`` against the files OpenCV and Pillow write, ``decode_jpeg`` against jpeglib.

Sections, in order:

* bytes: the number of files ``encode_jpeg`` writes that differ from OpenCV's ``cv2.imencode`` and
  Pillow's ``save`` for the same settings (must be 0):
  - the scikit-image photos, every quality 1..100, 4:2:0, 4:2:2, 4:4:4 and grayscale, standard and
    optimized Huffman tables (Pillow's grayscale files are written with ``writer="pillow"``);
  - random crops of odd sizes (1 to 301 px a side), random quality, layout and ``optimize``;
  - random custom tables in [1, 8], [1, 40] or [1, 255] on random crops (Pillow; OpenCV takes no tables).
* read: ``decode_jpeg`` against ``jpeglib.read_dct`` (coefficients and tables): the number of files
  whose coefficients differ, on a subset of the files above (every 11th quality), the JPEG files
  shipped by scikit-image and every other JPEG file (.jpg, .jpeg, .jpe, .jfif) under 2 MB installed under
  /usr and the venv (files decode_jpeg rejects with a ValueError, e.g. progressive ones, and files jpeglib
  cannot read are counted apart with the reason).
* speed (CPU, 1 and 2 threads, batch of 64 224x224 photo crops, quality 75, 4:2:0): ``encode_jpeg`` and
  ``jpeg_file_size`` of the float images and of the same images as uint8 (what ``cv2.imencode`` and
  ``torchvision.io.encode_jpeg`` take) against a loop of ``cv2.imencode`` (interleaved medians, ratios), their peak
  memory against the input's bytes and against the exact codec's forward (``diff_jpeg(mode="exact")``),
  a floor (the uint8 batch converted to float32 in one call: one pass any unchunked torch coder makes),
  the dispatched aten ops of ``jpeg_file_size``; ``decode_jpeg`` against loops of ``cv2.imdecode``
  and ``jpeglib.read_dct`` (images per second).
* CUDA: images per second of ``encode_jpeg`` against ``torchvision.io.encode_jpeg`` on the GPU
  (skipped, with the reason, without a GPU or torchvision).

Run:   nice python benchmarks/files.py            (several minutes on 2 CPU cores)
       python benchmarks/files.py --quick         (a small subset, about a minute)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS_DIR, format_table, interleaved_median_ms, make_parser, peak_memory_bytes, setup
from skimage import data

from kornia_diffjpeg import decode_jpeg, diff_jpeg, encode_jpeg, jpeg_encode, jpeg_file_size
from testing.datasets import layout_photos, layout_subsampling, odd_crop_cases, photo_crops
from testing.reference import as_blocks, from_uint8, opencv_encode, pillow_encode, to_uint8
from testing.syncs import DispatchCounter

LAYOUTS = ("4:2:0", "4:2:2", "4:4:4", "grayscale")
CHUNK = 10  # qualities coded per call (memory of a batch of full photos)


def _print(*args: object) -> None:
    print(*args, flush=True)


# --- bytes ----------------------------------------------------------------------------------------


def _photo_rows(args: argparse.Namespace, sample: list[bytes]) -> Iterator[list[object]]:
    qualities = [1, 25, 50, 75, 90, 100] if args.quick else list(range(1, 101))
    for layout in LAYOUTS:
        subsampling = layout_subsampling(layout)
        for optimize in (False, True):
            files = opencv_bad = pillow_bad = 0
            for array in layout_photos(layout, args.quick).values():
                image = from_uint8(array)
                for i in range(0, len(qualities), CHUNK):
                    chunk = qualities[i : i + CHUNK]
                    batch, quality = image.expand(len(chunk), -1, -1, -1), torch.tensor(chunk, dtype=torch.float32)
                    ours = encode_jpeg(batch, quality, subsampling=subsampling, optimize=optimize)
                    pillow = ours
                    if layout == "grayscale":  # Pillow declares the gray component with its subsampling's factors
                        pillow = encode_jpeg(
                            batch, quality, subsampling=subsampling, optimize=optimize, writer="pillow"
                        )
                    for q, data_, pil in zip(chunk, ours, pillow, strict=True):
                        opencv_bad += data_ != opencv_encode(array, q, subsampling, optimize=optimize)
                        pillow_bad += pil != pillow_encode(array, q, subsampling, optimize=optimize)
                        files += 1
                        if q % 11 == 1:
                            sample.append(data_)
            row = [f"photos, q {qualities[0]}-{qualities[-1]}", layout, optimize, files, opencv_bad, pillow_bad]
            _print("  ", row)
            yield row


def _crop_rows(args: argparse.Namespace, sample: list[bytes]) -> Iterator[list[object]]:
    rng = np.random.default_rng(0)
    count = 10 if args.quick else 100
    for tables in (False, True):
        for layout in LAYOUTS:
            subsampling = layout_subsampling(layout)
            files = opencv_bad = pillow_bad = 0
            for array, optimize, quality, pair in odd_crop_cases(rng, layout, count, tables):
                options = {"subsampling": subsampling, "optimize": optimize}
                image = from_uint8(array)
                if pair is not None:
                    qt_y, qt_c = (torch.from_numpy(t).float() for t in pair)
                    ours = encode_jpeg(image, qt_y=qt_y, qt_c=qt_c, writer="pillow", **options)[0]
                    qtables = [qt_y.numpy(), qt_c.numpy()][: 1 if layout == "grayscale" else 2]
                    pillow_bad += ours != pillow_encode(array, None, qtables=qtables, **options)
                else:
                    assert quality is not None
                    ours = encode_jpeg(image, float(quality), **options)[0]
                    opencv_bad += ours != opencv_encode(array, quality, **options)
                    pil = (
                        ours
                        if layout != "grayscale"
                        else encode_jpeg(image, float(quality), writer="pillow", **options)[0]
                    )
                    pillow_bad += pil != pillow_encode(array, quality, **options)
                files += 1
                sample.append(ours)
            what = "odd crops, random tables" if tables else "odd crops, random q"
            row = [what, layout, "random", files, None if tables else opencv_bad, pillow_bad]
            _print("  ", row)
            yield row


def bytes_section(args: argparse.Namespace) -> tuple[int, list[bytes]]:
    _print("== bytes: files encode_jpeg writes that differ from OpenCV's and Pillow's (0 is byte-identical) ==")
    sample: list[bytes] = []
    rows = [*_photo_rows(args, sample), *_crop_rows(args, sample)]
    header = ["images", "layout", "optimize", "files", "differ from OpenCV", "differ from Pillow"]
    _print(format_table(header, rows, left=3))
    total = sum(sum(v for v in row[4:] if v is not None) for row in rows)
    _print(f"total files: {sum(row[3] for row in rows)}, differing: {total}\n")
    return total, sample


# --- read ---------------------------------------------------------------------------------------


def _differs_from_jpeglib(data_: bytes, directory: Path) -> bool:
    import jpeglib

    ours = decode_jpeg(data_)  # first: what it rejects (ValueError) is counted apart, whatever jpeglib makes of it
    path = directory / "file.jpg"
    path.write_bytes(data_)
    try:
        file = jpeglib.read_dct(str(path))
    except Exception as error:  # noqa: BLE001 (jpeglib raises what libjpeg reports, of several types)
        raise _JpeglibFailed(type(error).__name__) from error
    same = torch.equal(ours.luma[0, 0].long(), as_blocks(file.Y))
    same &= torch.equal(ours.qt_y[0].long(), torch.from_numpy(file.qt[file.quant_tbl_no[0]]).long())
    if file.Cb is not None:
        chroma = torch.stack([as_blocks(file.Cb), as_blocks(file.Cr)])
        same &= ours.chroma is not None and torch.equal(ours.chroma[0].long(), chroma)
    return not same


class _JpeglibFailed(Exception):
    """jpeglib could not read a file that decode_jpeg read."""


def _installed_jpegs() -> list[Path]:
    """Every JPEG file under 2 MB under /usr and the venv (.jpg, .jpeg, .jpe, .jfif, any case)."""
    names = ["(", "-iname", "*.jpg", "-o", "-iname", "*.jpeg", "-o", "-iname", "*.jpe", "-o", "-iname", "*.jfif", ")"]
    found = subprocess.run(
        ["find", "/usr", sys.prefix, *names, "-type", "f", "-size", "-2M", "-print0"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split("\0")
    return sorted({Path(p).resolve() for p in found if p})


def read_section(args: argparse.Namespace, sample: list[bytes]) -> int:
    _print("== read: files whose decode_jpeg coefficients differ from jpeglib.read_dct's (0 is identical) ==")
    groups: dict[str, list[tuple[str, bytes]]] = {
        "written above (subset)": [(f"#{i}", d) for i, d in enumerate(sample)],
        "scikit-image's files": [(p.name, p.read_bytes()) for p in sorted((Path(data.__file__).parent).glob("*.jpg"))],
        "installed JPEG files (<2 MB)": [(str(p), p.read_bytes()) for p in _installed_jpegs()],
    }
    rows, total = [], 0
    with tempfile.TemporaryDirectory() as directory:
        for group, files in groups.items():
            differ, rejected = 0, {}
            for _name, data_ in files:
                try:
                    differ += _differs_from_jpeglib(data_, Path(directory))
                except ValueError as error:
                    reason = str(error).split(":")[0]
                    rejected[reason] = rejected.get(reason, 0) + 1
                except _JpeglibFailed as error:
                    reason = f"read by decode_jpeg, not by jpeglib ({error})"
                    rejected[reason] = rejected.get(reason, 0) + 1
            read = len(files) - sum(rejected.values())
            reasons = "; ".join(f"{n} {r}" for r, n in rejected.items()) or "-"
            rows.append([group, len(files), read, differ, reasons])
            total += differ
            _print("  ", rows[-1])
    _print(format_table(["files", "count", "read", "differ from jpeglib", "not compared (why)"], rows))
    _print(f"coefficient mismatches: {total}\n")
    return total


# --- speed --------------------------------------------------------------------------------------


def _ops(fn: Callable[[], object]) -> int:
    with DispatchCounter() as counter:
        fn()
    return counter.count


def speed_section(args: argparse.Namespace) -> dict[str, float]:
    import cv2
    import jpeglib

    count = 16 if args.quick else 64
    images = photo_crops(count=count)
    arrays = [to_uint8(image) for image in images]
    bgr = [np.ascontiguousarray(a[..., ::-1]) for a in arrays]
    quality = 75.0
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    samples = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()  # uint8 (B, 3, H, W)
    files = encode_jpeg(images, quality)
    assert encode_jpeg(samples, quality) == files
    buffers = [np.frombuffer(f, np.uint8) for f in files]
    directory = Path(tempfile.mkdtemp())
    paths = []
    for i, f in enumerate(files):
        paths.append(str(directory / f"{i}.jpg"))
        Path(paths[-1]).write_bytes(f)
    fns = {
        "encode_jpeg": lambda: encode_jpeg(images, quality),
        "jpeg_file_size": lambda: jpeg_file_size(images, quality),
        '  of which jpeg_encode(mode="exact")': lambda: jpeg_encode(images, quality, mode="exact"),
        "encode_jpeg (uint8)": lambda: encode_jpeg(samples, quality),
        "jpeg_file_size (uint8)": lambda: jpeg_file_size(samples, quality),
        f"cv2.imencode x {count}": lambda: [cv2.imencode(".jpg", a, params) for a in bgr],
        # A floor for any torch encoder: one pass over the batch, in one call (as an unchunked coder reads it).
        "floor: the uint8 batch to float32": samples.float,
    }
    decoders = {
        "decode_jpeg": lambda: decode_jpeg(files),
        f"cv2.imdecode x {count}": lambda: [cv2.imdecode(b, cv2.IMREAD_UNCHANGED) for b in buffers],
        f"jpeglib.read_dct x {count}": lambda: [jpeglib.read_dct(p) for p in paths],
    }
    results: dict[str, float] = {}
    repeats = 3 if args.quick else 9
    for threads in (1, 2):
        torch.set_num_threads(threads)
        cv2.setNumThreads(threads)
        _print(f"== speed: {count} photo crops 224x224, quality 75, 4:2:0, CPU, {threads} thread(s) ==")
        times = interleaved_median_ms(fns, torch.device("cpu"), repeats=repeats)
        opencv = times[f"cv2.imencode x {count}"]
        rows = [[name, ms, count / ms * 1000, ms / opencv] for name, ms in times.items()]
        _print(format_table(["writer", "median ms", "images/s", "x cv2.imencode"], rows))
        times = interleaved_median_ms(decoders, torch.device("cpu"), repeats=max(3, repeats // 3), warmup=1)
        opencv = times[f"cv2.imdecode x {count}"]
        rows = [[name, ms, count / ms * 1000, ms / opencv] for name, ms in times.items()]
        _print(format_table(["reader", "median ms", "images/s", "x cv2.imdecode"], rows))
        results.update({f"{name} ({threads}t)": ms for name, ms in times.items()})
    torch.set_num_threads(1)
    input_bytes = images.numel() * images.element_size()
    memory = {
        "encode_jpeg": peak_memory_bytes(lambda: encode_jpeg(images, quality), torch.device("cpu")),
        "jpeg_file_size": peak_memory_bytes(lambda: jpeg_file_size(images, quality), torch.device("cpu")),
        "encode_jpeg (uint8)": peak_memory_bytes(lambda: encode_jpeg(samples, quality), torch.device("cpu")),
        '  of which jpeg_encode(mode="exact")': peak_memory_bytes(
            lambda: jpeg_encode(images, quality, mode="exact"), torch.device("cpu")
        ),
        'diff_jpeg(mode="exact") forward': peak_memory_bytes(
            lambda: diff_jpeg(images, quality, mode="exact"), torch.device("cpu")
        ),
    }
    codec = memory['diff_jpeg(mode="exact") forward']
    own_input = {"encode_jpeg (uint8)": samples.numel()}  # the call's own input: 1 byte per sample
    rows = [
        [name, nbytes / 2**20, nbytes / own_input.get(name, input_bytes), nbytes / codec]
        for name, nbytes in memory.items()
    ]
    _print(
        f"== peak memory (torch CPU allocator), input {input_bytes / 2**20:.1f} MiB float32 "
        f"({samples.numel() / 2**20:.1f} MiB uint8) =="
    )
    _print(format_table(["call", "peak MiB", "x input bytes", "x codec forward"], rows))
    ops = {
        "jpeg_file_size(images)": _ops(lambda: jpeg_file_size(images, quality)),
        '  of which jpeg_encode(mode="exact")': _ops(lambda: jpeg_encode(images, quality, mode="exact")),
        "jpeg_file_size(images, optimize=True)": _ops(lambda: jpeg_file_size(images, quality, optimize=True)),
        "encode_jpeg(images)": _ops(lambda: encode_jpeg(images, quality)),
    }
    _print("== dispatched aten ops per call ==")
    _print(format_table(["call", "aten ops"], [[k, v] for k, v in ops.items()]))
    _print()
    return results


def cuda_section() -> None:
    _print("== CUDA: encode_jpeg vs torchvision.io.encode_jpeg on the GPU ==")
    if not torch.cuda.is_available():
        _print("skipped: no CUDA device on this machine\n")
        return
    try:
        from torchvision.io import encode_jpeg as torchvision_encode_jpeg
    except ImportError:
        _print("skipped: torchvision is not installed\n")
        return
    except RuntimeError as error:  # a wheel built for another torch: "operator torchvision::nms does not exist"
        _print(f"skipped: torchvision does not import with this torch ({str(error).splitlines()[0][:120]})\n")
        return
    device = torch.device("cuda")
    images = photo_crops(count=64).to(device)
    as_uint8 = [(image * 255).round().byte() for image in images]
    ours = encode_jpeg(images, 75.0)
    theirs = [bytes(t.cpu().numpy()) for t in torchvision_encode_jpeg(as_uint8, quality=75)]
    samples = torch.stack(as_uint8)  # the same images as one uint8 batch
    assert encode_jpeg(samples, 75.0) == ours
    fns = {
        "encode_jpeg (GPU)": lambda: encode_jpeg(images, 75.0),
        "encode_jpeg (GPU, uint8)": lambda: encode_jpeg(samples, 75.0),
        "torchvision.io.encode_jpeg (GPU, nvJPEG)": lambda: torchvision_encode_jpeg(as_uint8, quality=75),
    }
    times = interleaved_median_ms(fns, device, repeats=15)
    rows = [[name, ms, 64 / ms * 1000] for name, ms in times.items()]
    _print(format_table(["writer", "median ms", "images/s"], rows))
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    _print(f"files equal to nvJPEG's: {same} of 64 (nvJPEG is not libjpeg-identical)\n")


def _plot(results: dict[str, float]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    RESULTS_DIR.mkdir(exist_ok=True)
    names, values = list(results), list(results.values())
    figure, axis = plt.subplots(figsize=(8, 0.4 * len(names) + 1))
    axis.barh(names, values)
    axis.set_xlabel("median ms per batch")
    axis.set_title("Reading a batch of JPEG files (CPU)")
    figure.tight_layout()
    figure.savefig(RESULTS_DIR / "files_read.png")
    _print(f"plot: {RESULTS_DIR / 'files_read.png'}")


def main() -> None:
    parser = make_parser(__doc__)
    args = parser.parse_args()
    setup("cpu")
    start = time.perf_counter()
    differing, sample = bytes_section(args)
    mismatches = read_section(args, sample)
    results = speed_section(args)
    cuda_section()
    _plot(results)
    _print(f"differing files: {differing}; coefficient mismatches: {mismatches}; {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
