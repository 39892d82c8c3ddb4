"""Speed of the differentiable JPEG codec: deterministic figures, times against floors and peers, and GPU throughput.

For a batch of 16x3x224x224 float32 photos (skimage photos resized, one quality per image, 10 to 90),
backward with respect to the image (as in augmentation), each mode of ``diff_jpeg`` (4:2:0) and
Kornia's ``jpeg_codec_differentiable``:

1. Deterministic figures, per call (they do not depend on the machine's load):

   * dispatched aten ops, forward (no grad) and forward+backward, counted with a ``TorchDispatchMode``, as
     one call over the batch (as on a GPU), and as run on the CPU, where a forward that records no gradient
     runs in steps of a few images (``kornia_diffjpeg.codec.steps``: each step dispatches its own ops);
   * kernel-level ops: the same without views and metadata ops (each one a kernel launch on a GPU);
   * host syncs (``.item()``, ``bool(tensor)``, ``linalg`` error checks) and host-to-device copies
     (tensors built from Python data, copies from the CPU to another device), counted after a warm-up call;
   * bytes saved for backward per input byte (``torch.autograd.graph.saved_tensors_hooks``, unique storages);
   * peak memory of forward+backward beyond the inputs (see benchmarks/_common.py).

   Rows: every mode, ``"surrogate"`` with validation off (``kornia_diffjpeg.set_validation(False)``), and
   ``"surrogate"`` with a learnable quality (gradient to the quality too), reported separately.

2. Times (median of interleaved runs, with 1 and then 2 intra-op threads) of forward and forward+backward,
   with ratios to Kornia's and to the floors: a dense 8x8 block DCT+IDCT with blockify of the same batch, one
   read+write of the tensor, OpenCV encode+decode of the uint8 batch (one image after the other). The
   compiled codec (``torch.compile``, Inductor) is timed too when ``--compile`` is given.

3. Small batches (1 thread): forward and forward+backward of the surrogate mode against Kornia's at
   8x3x32x32, 128x3x32x32 (CIFAR-sized) and 1x3x224x224, where a call's fixed cost weighs most.

4. With ``--device cuda``: images/s of every mode, forward and forward+backward, at batch 64, 128 and 256 of
   224x224 and 4 of 1024x1024, against Kornia on the same GPU and against ``torchvision.io.encode_jpeg`` /
   ``decode_jpeg`` on the GPU where torchvision imports.

Run:   python benchmarks/speed.py                   (figures, then timings; minutes on 2 CPU cores)
       python benchmarks/speed.py --figures         (the deterministic figures only, seconds)
       python benchmarks/speed.py --quick           (fewer repeats)
       python benchmarks/speed.py --compile         (also time the Inductor-compiled codec)
       python benchmarks/speed.py --device cuda     (GPU throughput as well)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from functools import partial

import torch
import torch.nn.functional as F
from _common import format_table, interleaved_median_ms, make_parser, peak_memory_bytes, synchronize
from kornia.enhance import jpeg_codec_differentiable
from torch.utils._python_dispatch import TorchDispatchMode
from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

import kornia_diffjpeg
from kornia_diffjpeg import ModeName, diff_jpeg
from kornia_diffjpeg.codec import steps
from kornia_diffjpeg.codec.dct import blockify, dct_matrix, unblockify
from testing.datasets import load_photos
from testing.reference import opencv_jpeg, to_uint8
from testing.syncs import HostSyncCounter

MODES: tuple[ModeName, ...] = ("surrogate", "ste", "exact")
SYNC_OPS = {"aten._local_scalar_dense.default", "aten._linalg_check_errors.default", "aten.is_nonzero.default"}
# Ops that only change metadata (no kernel): views, detach, aliasing reshapes, building a tensor from host data.
METADATA_OPS = {"aten._unsafe_view.default", "aten.lift_fresh.default", "aten.detach.default"}


# --- the calls measured -------------------------------------------------------------------------


def photo_batch(batch: int, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch`` RGB photos resized to size x size, and one quality per image from 10 to 90."""
    photos = [torch.from_numpy(p).permute(2, 0, 1).float() / 255.0 for p in load_photos().values()]
    images = [
        F.interpolate(photos[i % len(photos)][None], size=(size, size), mode="bilinear", antialias=True)
        for i in range(batch)
    ]
    quality = torch.linspace(10.0, 90.0, batch).round()
    return torch.cat(images).clamp(0.0, 1.0).to(device), quality.to(device)


Codec = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def ours(mode: ModeName, validation: bool = True) -> Codec:
    def codec(image: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        with kornia_diffjpeg.set_validation(validation):
            return diff_jpeg(image, quality, mode=mode)

    return codec


def codecs() -> dict[str, Codec]:
    rows: dict[str, Codec] = {mode: ours(mode) for mode in MODES}
    rows["surrogate, validation off"] = ours("surrogate", validation=False)
    rows["kornia"] = jpeg_codec_differentiable
    return rows


def block_dct_floor(image: torch.Tensor, _quality: torch.Tensor) -> torch.Tensor:
    """The arithmetic floor: blockify, dense 8x8 block DCT and IDCT (64x64 matmuls), unblockify."""
    basis = dct_matrix(image.dtype, image.device)
    transform = torch.kron(basis, basis)
    return unblockify(blockify(image) @ transform.T @ transform)


def read_write_floor(image: torch.Tensor, _quality: torch.Tensor) -> torch.Tensor:
    """One read and one write of the tensor."""
    return image * 1.0


def step(codec: Codec, image: torch.Tensor, quality: torch.Tensor, backward: bool) -> Callable[[], object]:
    """A call of ``codec`` without gradients, or a call and the backward pass of the output's sum."""
    if not backward:
        image, quality = image.detach(), quality.detach()

        def forward() -> object:
            with torch.no_grad():
                return codec(image, quality)

        return forward
    image = image.detach().clone().requires_grad_(True)

    def forward_backward() -> None:
        codec(image, quality).sum().backward()
        image.grad = None
        if quality.requires_grad:
            quality.grad = None

    return forward_backward


# --- deterministic figures ----------------------------------------------------------------------


class OpCounter(TorchDispatchMode):
    """Counts dispatched aten ops, kernel-level ops, host syncs and host-to-device copies."""

    def __init__(self) -> None:
        super().__init__()
        self.aten = self.kernels = self.syncs = self.host_to_device = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        name = str(func)
        self.aten += 1
        if not (func.is_view or name in METADATA_OPS):
            self.kernels += 1
        if name in SYNC_OPS:
            self.syncs += 1
        out = func(*args, **kwargs)
        if name == "aten.lift_fresh.default":  # torch.tensor(python data): built on the host, then copied
            self.host_to_device += 1
        elif name in ("aten._to_copy.default", "aten.copy_.default"):
            sources = [a for a in args if isinstance(a, torch.Tensor)]
            target = out if isinstance(out, torch.Tensor) else None
            if target is not None and target.device.type != "cpu" and any(s.device.type == "cpu" for s in sources):
                self.host_to_device += 1
        return out


def count_ops(fn: Callable[[], object]) -> OpCounter:
    fn()  # warm-up: caches filled
    # HostSyncCounter also sees Tensor.tolist/numpy, which read data without dispatching an op on the CPU.
    with OpCounter() as counter, HostSyncCounter() as syncs:
        fn()
    counter.syncs = syncs.total
    return counter


def saved_bytes(fn: Callable[[], object]) -> int:
    """Bytes of the unique storages that autograd saves for backward during ``fn()``."""
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        fn()
    return sum(storages.values())


@contextlib.contextmanager
def one_call() -> Iterator[None]:
    """The codec's forwards as one call over the batch, as on a GPU: on the CPU a forward that records no
    gradient runs in steps of a few images (``kornia_diffjpeg.codec.steps``), each step its own ops."""
    saved = steps.STEP_SAMPLES
    steps.STEP_SAMPLES = None
    try:
        yield
    finally:
        steps.STEP_SAMPLES = saved


def figures(rows: dict[str, Codec], image: torch.Tensor, quality: torch.Tensor, learnable: bool) -> list[list]:
    device = image.device
    table = []
    for name, codec in tqdm(rows.items(), desc="figures", leave=False):
        q = quality.detach().clone().requires_grad_(learnable)
        with one_call():
            forward, both = count_ops(step(codec, image, q, False)), count_ops(step(codec, image, q, True))
        stepped = [count_ops(step(codec, image, q, backward)).aten for backward in (False, True)]
        saved = saved_bytes(partial(codec, image.detach().clone().requires_grad_(True), q))
        peak = peak_memory_bytes(step(codec, image, q, True), device) / 2**20
        row = [name, forward.aten, both.aten, *stepped, forward.kernels, both.kernels, forward.syncs, both.syncs]
        row += [forward.host_to_device, both.host_to_device, saved / image.nbytes, peak]
        table.append(row)
        tqdm.write(f"  {name}: {row[1:]}")
    return table


FIGURE_HEADER = [
    "codec",
    "aten ops fwd",
    "aten fwd+bwd",
    "aten fwd, CPU steps",
    "aten fwd+bwd, CPU steps",
    "kernels fwd",
    "kernels fwd+bwd",
    "syncs fwd",
    "syncs fwd+bwd",
    "H2D fwd",
    "H2D fwd+bwd",
    "saved / input",
    "peak MiB",
]


# --- times --------------------------------------------------------------------------------------


def real_codec(image: torch.Tensor, quality: torch.Tensor) -> Callable[[], None]:
    """OpenCV encode+decode of the batch as uint8 images, one after the other."""
    arrays = [to_uint8(picture) for picture in image.cpu()]
    qualities = [int(q) for q in quality.tolist()]

    def loop() -> None:
        for array, q in zip(arrays, qualities, strict=True):
            opencv_jpeg(array, q)

    return loop


def timings(rows: dict[str, Codec], image: torch.Tensor, quality: torch.Tensor, repeats: int, threads: int) -> str:
    torch.set_num_threads(threads)
    device = image.device
    forward = {name: step(codec, image, quality, False) for name, codec in rows.items()}
    forward["floor: block DCT+IDCT"] = step(block_dct_floor, image, quality, False)
    forward["floor: read+write"] = step(read_write_floor, image, quality, False)
    forward["floor: OpenCV encode+decode"] = real_codec(image, quality)
    both = {name: step(codec, image, quality, True) for name, codec in rows.items()}
    both["floor: block DCT+IDCT"] = step(block_dct_floor, image, quality, True)
    # One interleaved loop for both, so that every ratio compares runs under the same load.
    steps = {f"forward|{k}": v for k, v in forward.items()} | {f"forward+backward|{k}": v for k, v in both.items()}
    measured = interleaved_median_ms(steps, device, repeats)
    forward_ms = {key.split("|")[1]: ms for key, ms in measured.items() if key.startswith("forward|")}
    both_ms = {key.split("|")[1]: ms for key, ms in measured.items() if key.startswith("forward+backward|")}
    tqdm.write(f"  {threads} thread(s), forward: " + ", ".join(f"{k} {v:.1f}" for k, v in forward_ms.items()))
    tqdm.write(f"  {threads} thread(s), fwd+bwd: " + ", ".join(f"{k} {v:.1f}" for k, v in both_ms.items()))
    kornia = forward_ms["kornia"], both_ms["kornia"]
    dct, copy, opencv = (forward_ms[f"floor: {k}"] for k in ("block DCT+IDCT", "read+write", "OpenCV encode+decode"))
    table = []
    for name, ms in forward_ms.items():
        fb = both_ms.get(name)
        row = [name, ms, fb, kornia[0] / ms, None if fb is None else kornia[1] / fb]
        row += [ms / dct, ms / copy, ms / opencv]
        table.append(row)
    header = ["", "fwd ms", "fwd+bwd ms", "kornia / fwd", "kornia / fwd+bwd", "fwd / DCT", "fwd / r+w", "fwd / OpenCV"]
    return format_table(header, table, floatfmt=".2f")


def small_batches(device: torch.device, repeats: int) -> str:
    """Forward and forward+backward times of small batches, surrogate against Kornia, 1 thread."""
    torch.set_num_threads(1)
    steps: dict[str, Callable[[], object]] = {}
    shapes = ((8, 32), (128, 32), (1, 224))
    for batch, size in shapes:
        image, quality = photo_batch(batch, size, device)
        for name, codec in (("surrogate", ours("surrogate")), ("kornia", jpeg_codec_differentiable)):
            steps[f"{batch}x3x{size}x{size}|{name}|fwd"] = step(codec, image, quality, False)
            steps[f"{batch}x3x{size}x{size}|{name}|fwd+bwd"] = step(codec, image, quality, True)
    measured = interleaved_median_ms(steps, device, repeats * 2)
    table = []
    for batch, size in shapes:
        key = f"{batch}x3x{size}x{size}"
        ms = {(n, p): measured[f"{key}|{n}|{p}"] for n in ("surrogate", "kornia") for p in ("fwd", "fwd+bwd")}
        kornia_ratio = ms["kornia", "fwd+bwd"] / ms["surrogate", "fwd+bwd"]
        table.append([key, ms["surrogate", "fwd"], ms["surrogate", "fwd+bwd"], ms["kornia", "fwd+bwd"], kornia_ratio])
    header = ["batch", "surrogate fwd ms", "surrogate fwd+bwd ms", "kornia fwd+bwd ms", "kornia / surrogate"]
    return format_table(header, table, floatfmt=".2f")


# --- GPU throughput -----------------------------------------------------------------------------


def torchvision_codec(device: torch.device) -> tuple[Codec | None, str]:
    try:
        from torchvision.io import decode_jpeg, encode_jpeg  # type: ignore[import-not-found,unused-ignore]
    except Exception as error:  # noqa: BLE001 (any import failure means: not available)
        return None, f"torchvision does not import ({type(error).__name__}: {str(error).splitlines()[0][:80]})"

    def codec(image: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        data = [(picture * 255.0).round().to(torch.uint8) for picture in image]
        encoded = [encode_jpeg(d, quality=int(q)) for d, q in zip(data, quality.tolist(), strict=True)]
        return torch.stack(decode_jpeg(encoded, device=device)).float() / 255.0

    return codec, ""


def gpu_throughput(device: torch.device, repeats: int) -> None:
    rows: dict[str, Codec] = {mode: ours(mode) for mode in MODES}
    rows["surrogate, validation off"] = ours("surrogate", validation=False)
    rows["kornia"] = jpeg_codec_differentiable
    real, reason = torchvision_codec(device)
    if real is None:
        print(f"torchvision.io encode_jpeg/decode_jpeg on the GPU: skipped, {reason}")
    for batch, size in ((64, 224), (128, 224), (256, 224), (4, 1024)):
        image, quality = photo_batch(batch, size, device)
        forward = {name: step(codec, image, quality, False) for name, codec in rows.items()}
        if real is not None:
            forward["torchvision.io (uint8, GPU)"] = step(real, image, quality, False)
        both = {name: step(codec, image, quality, True) for name, codec in rows.items()}
        forward_ms = interleaved_median_ms(forward, device, repeats)
        both_ms = interleaved_median_ms(both, device, repeats)
        table = [
            [name, batch * 1000.0 / ms, None if name not in both_ms else batch * 1000.0 / both_ms[name]]
            for name, ms in forward_ms.items()
        ]
        print(f"\n{batch}x3x{size}x{size} on {torch.cuda.get_device_name(device)}: images/s")
        print(format_table(["codec", "forward", "forward+backward"], table, floatfmt=".0f"), flush=True)


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    parser = make_parser(__doc__)
    parser.add_argument("--figures", action="store_true", help="only the deterministic figures")
    parser.add_argument("--compile", action="store_true", help="also time the Inductor-compiled codec")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_num_threads(1)
    started = time.perf_counter()
    image, quality = photo_batch(16, 224, device)
    print(f"16x3x224x224 float32 on {device.type}, per-sample qualities 10..90, backward w.r.t. the image\n")

    rows = codecs()
    table = figures(rows, image, quality, learnable=False)
    table += [["surrogate, learnable quality", *r[1:]] for r in figures({"s": ours("surrogate")}, image, quality, True)]
    floors: dict[str, Codec] = {"floor: block DCT+IDCT": block_dct_floor, "floor: read+write": read_write_floor}
    table += figures(floors, image, quality, learnable=False)
    print(format_table(FIGURE_HEADER, table, floatfmt=".2f"), end="\n\n", flush=True)
    if args.figures:
        return

    if args.compile:  # value checks are skipped while torch.compile traces
        # Every mode, with and without gradients, at 1 and 2 threads: more graphs of diff_jpeg than the default 8.
        torch._dynamo.config.recompile_limit = 64
        for mode in MODES:
            rows[f"{mode}, compiled"] = torch.compile(partial(diff_jpeg, mode=mode), fullgraph=True)
    repeats = 3 if args.quick else 15
    for threads in (1, 2):
        print(f"Times, {threads} thread(s), median of {repeats} interleaved runs", flush=True)
        print(timings(rows, image, quality, repeats, threads), end="\n\n", flush=True)
    print(f"Small batches, 1 thread, median of {repeats * 2} interleaved runs", flush=True)
    print(small_batches(device, repeats), end="\n\n", flush=True)
    if device.type == "cuda":
        gpu_throughput(device, repeats)
    synchronize(device)
    print(f"\nRuntime: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
