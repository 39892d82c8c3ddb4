"""File-size models for ``benchmarks/filesize.py``: the smooth estimate and the learned regressor.

Not a benchmark by itself. ``estimate_section(args)`` scores ``diff_jpeg_file_size`` against the real
encoders' byte counts (OpenCV for qualities, Pillow for custom tables) on random crops of photos that
were not used to fit its calibration, and refits the calibration on the calibration photos to show
where the defaults come from. ``regressor_section(args)`` reports the held-out MARE of the regressor
trained by ``examples/train_filesize_regressor.py`` (weights read from ``benchmarks/results/``) and of
its linear rate prior alone; without a usable file it trains one here for a short budget and says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from _common import RESULTS_DIR, format_table

from kornia_diffjpeg import jpeg_encode
from kornia_diffjpeg.filesize.estimate import DEFAULT_CALIBRATION, diff_jpeg_file_size, entropy_coded_cost
from kornia_diffjpeg.filesize.exact import header_size
from testing.datasets import photo
from testing.reference import from_uint8, opencv_encode, pillow_encode

#: The calibration scalars were fitted on crops of these; the evaluation photos below are disjoint.
CALIBRATION_PHOTOS = {
    "color": ("hubble_deep_field", "immunohistochemistry", "stereo_motorcycle"),
    "gray": ("coins", "brick"),
}
EVALUATION_PHOTOS = {"color": ("astronaut", "chelsea", "coffee", "rocket"), "gray": ("camera", "grass", "gravel")}
LAYOUTS = ("4:2:0", "4:2:2", "4:4:4", "grayscale")
SETTINGS = ("q 1-99", "q 100", "random tables")


def _cases(photos: dict[str, tuple[str, ...]], layout: str, setting: str, count: int, rng: np.random.Generator):
    """(crop, quality or None, tables or None) for random crops 32-256 px a side."""
    arrays = [photo(name) for name in photos["gray" if layout == "grayscale" else "color"]]
    for _ in range(count):
        array = arrays[int(rng.integers(len(arrays)))]
        height, width = (int(min(rng.integers(32, 257), side)) for side in array.shape[:2])
        top, left = int(rng.integers(array.shape[0] - height + 1)), int(rng.integers(array.shape[1] - width + 1))
        crop = np.ascontiguousarray(array[top : top + height, left : left + width])
        if setting == "random tables":
            yield crop, None, [rng.integers(1, 256, (8, 8)) for _ in range(2)]
        else:
            yield crop, (100 if setting == "q 100" else int(rng.integers(1, 100))), None


def _real_size(crop: np.ndarray, quality: int | None, tables, subsampling: str) -> int:
    if tables is None:
        return len(opencv_encode(crop, quality, subsampling))
    return len(pillow_encode(crop, subsampling=subsampling, qtables=tables if crop.ndim == 3 else tables[:1]))


def _settings(quality: int | None, tables, subsampling: str) -> dict:
    qt_y, qt_c = (None, None) if tables is None else (torch.tensor(t, dtype=torch.float32) for t in tables)
    return {
        "quality": None if quality is None else float(quality),
        "qt_y": qt_y,
        "qt_c": qt_c,
        "subsampling": subsampling,
    }


def _relative_errors(layout: str, setting: str, count: int, seed: int) -> list[float]:
    subsampling = "4:2:0" if layout == "grayscale" else layout
    errors = []
    for crop, quality, tables in _cases(EVALUATION_PHOTOS, layout, setting, count, np.random.default_rng(seed)):
        actual = _real_size(crop, quality, tables, subsampling)
        settings = _settings(quality, tables, subsampling)
        estimate = float(diff_jpeg_file_size(from_uint8(crop), settings.pop("quality"), **settings)[0])
        errors.append(abs(estimate - actual) / actual)
    return errors


def fit_calibration(count: int, seed: int = 0) -> tuple[float, float]:
    """Least-squares fit of (ff_scale, stuffing) to relative errors on the calibration photos."""
    rng = np.random.default_rng(seed)
    features, residuals = [], []
    for layout in LAYOUTS:
        subsampling = "4:2:0" if layout == "grayscale" else layout
        for setting in SETTINGS:
            for crop, quality, tables in _cases(CALIBRATION_PHOTOS, layout, setting, count, rng):
                actual = _real_size(crop, quality, tables, subsampling)
                settings = _settings(quality, tables, subsampling)
                bits, ff = entropy_coded_cost(jpeg_encode(from_uint8(crop), mode="exact", **settings)).tolist()
                data_bytes = bits[0] / 8.0 + 0.5
                residuals.append((actual - header_size(3 if crop.ndim == 3 else 1) - data_bytes) / actual)
                features.append((ff[0] / actual, data_bytes / actual))
    solution = np.linalg.lstsq(np.array(features), np.array(residuals), rcond=None)[0]
    return float(solution[0]), float(solution[1])


def estimate_section(args: argparse.Namespace) -> None:
    """MARE (%) of the smooth estimate against OpenCV/Pillow on held-out photo crops."""
    count = 5 if args.quick else 20
    rows, totals = [], {setting: [] for setting in SETTINGS}
    for index, layout in enumerate(LAYOUTS):
        row = [layout]
        for offset, setting in enumerate(SETTINGS):
            errors = _relative_errors(layout, setting, count, seed=100 + 10 * index + offset)
            totals[setting] += errors
            row.append(100.0 * float(np.mean(errors)))
        rows.append(row)
        cells = ", ".join(f"{setting} {value:.3f}%" for setting, value in zip(SETTINGS, row[1:], strict=True))
        print(f"  estimate {layout}: MARE {cells}", flush=True)
    rows.append(["all", *(100.0 * float(np.mean(totals[s])) for s in SETTINGS)])
    print(f"\nSmooth estimate diff_jpeg_file_size: MARE (%) vs the real encoders, {count} random crops (32-256 px)")
    print(f"per cell of {', '.join(EVALUATION_PHOTOS['color'] + EVALUATION_PHOTOS['gray'])}")
    print(format_table(["layout", *SETTINGS], rows, floatfmt=".3f"))
    if not args.quick:
        ff_scale, stuffing = fit_calibration(count=8)
        in_use = f"ff_scale {DEFAULT_CALIBRATION['ff_scale']}, stuffing {DEFAULT_CALIBRATION['stuffing']}"
        photos = ", ".join(sum(CALIBRATION_PHOTOS.values(), ()))
        print(f"calibration in use: {in_use}; refit now on {photos}: {ff_scale:.3f}, {stuffing:.5f}")


def regressor_section(args: argparse.Namespace) -> None:
    """Held-out MARE of the learned regressor after the example's training budget."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from train_filesize_regressor import TRAIN_PHOTOS, held_out_mare, load

    from examples.filesize_training import train_file_size_regressor
    from kornia_diffjpeg.filesize.regressor import JPEGFileSizeRegressor

    model = JPEGFileSizeRegressor()
    checkpoint = RESULTS_DIR / "filesize_regressor.pt"
    source = None
    if checkpoint.exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state["state_dict"])
            source = f"weights from {checkpoint.name} ({state['steps']} steps of examples/train_filesize_regressor.py)"
        except RuntimeError:  # written by an older version of the model: train afresh instead
            model = JPEGFileSizeRegressor()
    if source is None:
        steps = 20 if args.quick else 150
        train_file_size_regressor(model, load(TRAIN_PHOTOS), steps, lr=3e-3, log_every=max(steps // 5, 1))
        source = f"no usable {checkpoint.name}: trained here for {steps} steps (run the example for its full budget)"
    model.eval()
    batches = 2 if args.quick else 8
    mare = held_out_mare(model, batches=batches)
    prior_mare = held_out_mare(JPEGFileSizeRegressor(), batches=batches)  # untrained: the rate prior alone
    rows = [["this regressor", 100.0 * mare], ["its rate prior alone", 100.0 * prior_mare], ["published", "2.5-6"]]
    print(f"\nLearned regressor JPEGFileSizeRegressor, {source}")
    print(format_table(["model", "held-out MARE (%)"], rows))
