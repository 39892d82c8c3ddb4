"""What the value checks cost: forward time with validation on and off, and the checks alone.

The value checks of a call (finite pixels, the 0..255 warning, quality and table ranges) are one
reduction over the image and one host read; ``kornia_diffjpeg.set_validation(False)`` turns them off.
This prints, for ``diff_jpeg`` on a 16x3x224x224 float32 batch with per-sample qualities:

* host syncs and dispatched aten ops per call, validation on and off (deterministic);
* forward time with validation on and off, interleaved, and their ratio;
* the time of the checks alone (the same checks a call runs, timed interleaved with the forward)
  as a share of the forward: the direct measure of the overhead, steadier than the difference of
  two noisy forward times.

Run ``python benchmarks/validation.py`` (``--quick`` for a smoke test).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import format_table, interleaved_median_ms, make_parser, synchronize  # noqa: E402
from kornia_diffjpeg import ModeName, diff_jpeg, set_validation  # noqa: E402
from kornia_diffjpeg._checks import ValueChecks, check_image, check_quality  # noqa: E402
from testing.syncs import DispatchCounter, HostSyncCounter  # noqa: E402


def _checks_alone(image: torch.Tensor, quality: torch.Tensor) -> None:
    """The value checks diff_jpeg runs for these arguments, without the codec."""
    checks = ValueChecks()
    batched = check_image(image, checks)
    check_quality(quality, batched.shape[0], batched.device, tuple(image.shape[:-3]), checks)
    checks.run()


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=21, help="interleaved repeats per timing (default 21)")
    args = parser.parse_args()
    device = torch.device(args.device)
    batch, side = (4, 64) if args.quick else (16, 224)
    repeats = 3 if args.quick else args.repeats
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(batch, 3, side, side, generator=generator).to(device)
    quality = torch.linspace(10.0, 95.0, batch, device=device)
    modes: tuple[ModeName, ...] = ("surrogate",) if args.quick else ("surrogate", "ste", "exact")

    print(f"diff_jpeg forward, {batch}x3x{side}x{side} float32, per-sample qualities, device {device}\n")
    rows = []
    for mode in modes:
        counts = []
        for enabled in (True, False):
            with set_validation(enabled), torch.no_grad():
                with HostSyncCounter() as syncs:
                    diff_jpeg(image, quality, mode=mode)
                with DispatchCounter() as ops:
                    diff_jpeg(image, quality, mode=mode)
            counts += [syncs.total, ops.count]
        with DispatchCounter() as ops, HostSyncCounter() as syncs:
            _checks_alone(image, quality)
        rows.append([mode, counts[0], counts[2], counts[1], counts[3], ops.count, syncs.total])
    header = ["mode", "syncs on", "syncs off", "ops on", "ops off", "ops of checks", "syncs of checks"]
    print(format_table(header, rows))
    print(flush=True)

    for threads in (1, 2):
        torch.set_num_threads(threads)
        rows = []
        for mode in modes:

            def forward(enabled: bool, mode: ModeName = mode) -> None:
                with set_validation(enabled), torch.no_grad():
                    diff_jpeg(image, quality, mode=mode)

            times = interleaved_median_ms(
                {
                    "on": lambda: forward(True),
                    "off": lambda: forward(False),
                    "checks": lambda: _checks_alone(image, quality),
                },
                device,
                repeats,
            )
            synchronize(device)
            rows.append(
                [
                    mode,
                    times["on"],
                    times["off"],
                    100.0 * (times["on"] / times["off"] - 1.0),
                    times["checks"],
                    100.0 * times["checks"] / times["off"],
                ]
            )
            print(f"  {threads} thread(s), {mode}: done", flush=True)
        header = ["mode", "on (ms)", "off (ms)", "on/off - 1 (%)", "checks alone (ms)", "checks / forward (%)"]
        print(f"\n{threads} intra-op thread(s), median of {repeats} interleaved repeats")
        print(format_table(header, rows))
        print(flush=True)


if __name__ == "__main__":
    main()
