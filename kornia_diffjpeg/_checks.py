"""Input checks for the public entry points; messages name the argument, its form and the value.

Two kinds of checks:

* form checks (types, shapes, dtypes, devices, choices) read no data and always run;
* value checks (finite pixels, quality, table and size ranges) read data. One call collects them in a
  :class:`ValueChecks`, whose :meth:`ValueChecks.run` reduces them on the device and reads the result
  with one host sync. They are skipped when validation is off (:class:`set_validation`), while
  ``torch.compile`` traces, inside ``torch.func`` transforms, on the ``meta`` device, and in public
  functions that another public function calls (an :func:`entry_point` checks its values once).
"""

from __future__ import annotations

import functools
import math
import os
import sys
import threading
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, TypeVar

import torch
from torch import Tensor

from kornia_diffjpeg._autograd import FusedFunction

__all__ = [
    "JPEG_MAX_DIMENSION",
    "QUALITY_RANGE",
    "TABLE_RANGE",
    "ValueChecks",
    "as_table",
    "check_bool",
    "check_choice",
    "check_color",
    "check_coefficients",
    "check_image",
    "check_int",
    "check_number",
    "check_quality",
    "check_real_tensor",
    "check_rounding",
    "check_table",
    "entry_point",
    "set_validation",
    "validation_enabled",
    "values_checkable",
]

#: libjpeg's largest image side (``JPEG_MAX_DIMENSION``): it refuses wider or taller images.
JPEG_MAX_DIMENSION = 65500
#: Qualities libjpeg, OpenCV and Pillow document; libjpeg codes quality 0 as quality 1.
QUALITY_RANGE = (0.0, 100.0)
#: Entries of a baseline (8-bit) quantization table.
TABLE_RANGE = (1.0, 255.0)
#: Floating-point dtypes the codec computes with (half precision is coded in float32).
IMAGE_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: Above this maximum (or below this minimum) an image is most likely on another scale: warn.
_SCALE_WARNING = (-0.5, 2.0)
#: Largest magnitude of an image value: far beyond any other scale (0..65535), and small enough that the codec's
#: float32 arithmetic cannot overflow (finite images near float32's limit were coded to NaN).
_LARGEST_PIXEL = 1e6
#: Largest magnitude of a coefficient decoded by the smooth face: above what any accepted image is coded to,
#: below what the float32 dequantization and inverse transforms overflow with (to NaN).
_LARGEST_COEFFICIENT = 1e20

_VALIDATION = True


class _CallState(threading.local):
    """Per thread: the depth of nested entry points, and whether the outermost one has read its values."""

    depth = 0
    checked = False


_CALL = _CallState()
_IS_WRAPPED = getattr(torch._C._functorch, "is_functorch_wrapped_tensor", None)  # vmap / grad transforms


def validation_enabled() -> bool:
    """Whether the public entry points check the values of their inputs (see :class:`set_validation`)."""
    return _VALIDATION


class set_validation:  # noqa: N801 (used like torch.set_grad_enabled: a function and a context manager)
    """Turn the value checks of the public entry points on or off, globally or within a ``with`` block.

    Value checks (finite pixels, quality and table ranges, ...) read data, which costs one host
    sync per call on a GPU. They are on by default; turn them off in a training loop whose inputs
    you trust. Shape, dtype and device checks stay on (they cost nothing). While ``torch.compile``
    traces, value checks are skipped whatever this says.

    Args:
        enabled: whether value checks run.

    Example:
        >>> import kornia_diffjpeg
        >>> with kornia_diffjpeg.set_validation(False):
        ...     kornia_diffjpeg.validation_enabled()
        False
        >>> kornia_diffjpeg.validation_enabled()
        True
    """

    def __init__(self, enabled: bool) -> None:
        global _VALIDATION
        check_bool("enabled", enabled)
        self.previous = _VALIDATION
        _VALIDATION = enabled

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        global _VALIDATION
        _VALIDATION = self.previous


def values_checkable() -> bool:
    """Whether value checks (which need a host sync) run now.

    False when validation is off, while torch.compile traces, and in an entry point called by another
    entry point that has read its values already.
    """
    if not _VALIDATION or torch.compiler.is_compiling():
        return False
    return _CALL.depth == 0 or not _CALL.checked


Function = TypeVar("Function", bound=Callable[..., Any])


def entry_point(function: Function) -> Function:
    """Mark a public function that calls other public functions: its call reads values once.

    The first :meth:`ValueChecks.run` within the outermost marked call reads the data; the value
    checks of the public functions it calls are skipped (they see inputs it has checked). So a
    marked function must check all the values it passes on before its first nested call, or run no
    value checks itself and leave them to the first function it calls.
    """

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if torch.compiler.is_compiling():
            return function(*args, **kwargs)
        depth = _CALL.depth
        if depth == 0:
            _CALL.checked = False
        _CALL.depth = depth + 1
        try:
            return function(*args, **kwargs)
        finally:
            _CALL.depth = depth

    return wrapper  # type: ignore[return-value]


def _readable(tensor: Tensor) -> bool:
    """Whether a tensor's values can be read: not on the meta device, not wrapped by a torch.func transform."""
    if tensor.is_meta:
        return False
    return not (_IS_WRAPPED is not None and _IS_WRAPPED(tensor))


def _show(values: list[float]) -> str:
    return str(values) if len(values) <= 8 else f"{len(values)} values in [{min(values)}, {max(values)}]"


#: Up to this many values of a 1-D tensor are read themselves rather than reduced to their extremes.
_FEW_VALUES = 256
#: Integer dtypes with few kernels (no ``aminmax``): their extremes are taken in float64.
_UNSIGNED_WIDE = tuple(getattr(torch, name) for name in ("uint16", "uint32", "uint64") if hasattr(torch, name))


def _extremes(values: list[float]) -> list[float]:
    """``[min, max]`` of a non-empty list, NaN for both if any value is NaN (as ``aminmax`` gives)."""
    if any(math.isnan(value) for value in values):
        return [math.nan, math.nan]
    return [min(values), max(values)]


def _raise_nonfinite_sample(name: str, image: Tensor) -> None:
    """Raise the ValueError naming the first sample of ``image`` that is not finite (a second host sync,
    paid by failing calls only)."""
    count = image.shape[0]
    dims = tuple(range(1, image.ndim))
    with torch.no_grad():
        lows, highs = image.amin(dim=dims).tolist(), image.amax(dim=dims).tolist()
    for index, (low, high) in enumerate(zip(lows, highs, strict=True)):
        problem = _nonfinite(low, high)
        if problem is not None:
            where = f" in sample {index} of {count}" if count > 1 else ""
            raise ValueError(f"{name} must be finite (images in [0, 1]), got {problem}{where}")
    raise ValueError(f"{name} must be finite (images in [0, 1])")


def _nonfinite(low: float, high: float) -> str | None:
    """What is wrong with a range that is not finite (NaN, inf), or None."""
    if math.isnan(low) or math.isnan(high):
        return "NaN"
    if math.isinf(low) or math.isinf(high):
        return f"infinite values (range [{low}, {high}])"
    return None


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning issued by the function calling this one point at the user's
    line: the first frame outside this package, torch and Kornia (whose AugmentationSequential may call our
    augmentations), however deep the call came."""
    packages = (sys.modules[__name__.split(".")[0]], torch, sys.modules.get("kornia"))
    files = [getattr(package, "__file__", None) for package in packages]
    folders = tuple(os.path.dirname(file) + os.sep for file in files if isinstance(file, str))
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(folders):
        frame, level = frame.f_back, level + 1
    return level


class ValueChecks:
    """The value checks of one call, reduced on the device and read with one host sync.

    Each check adds a few statistics (minimum, maximum, per sample for images) of a tensor; :meth:`run`
    concatenates them, reads them with one ``tolist()`` and raises the first failure. Nothing is
    collected when :func:`values_checkable` is False.

    Example:
        >>> checks = ValueChecks()
        >>> checks.within("quality", torch.tensor([50.0, 101.0]), 0.0, 100.0)
        >>> checks.run()
        Traceback (most recent call last):
        ...
        ValueError: quality must be finite and in [0, 100], got range [50.0, 101.0]
    """

    def __init__(self) -> None:
        self.active = values_checkable()
        self._stats: list[Tensor] = []
        self._reports: list[tuple[int, Callable[[list[float]], None]]] = []

    def add(self, stats: Tensor, report: Callable[[list[float]], None]) -> None:
        """Read ``stats`` (any shape, real dtype) in :meth:`run` and pass their values, flattened, to ``report``."""
        if self.active and _readable(stats):
            stats = stats.detach() if stats.requires_grad else stats
            self._stats.append(stats if stats.ndim == 1 else stats.reshape(-1))
            self._reports.append((stats.numel(), report))

    def _range(self, tensor: Tensor, report: Callable[[list[float]], None]) -> None:
        """Add the minimum and maximum of a non-empty tensor (two ops, no autograd record); a few values
        (per-sample qualities) are read themselves, with no op at all."""
        if not self.active or tensor.numel() == 0 or not _readable(tensor):
            return
        if tensor.dtype in _UNSIGNED_WIDE:
            tensor = tensor.double()
        if tensor.ndim == 1 and tensor.numel() <= _FEW_VALUES:
            self.add(tensor, lambda values: report(_extremes(values)))
            return
        with torch.no_grad():
            # One pass over the whole tensor: over a dimension, even of a (1, N) view, aminmax is ~5x slower
            # on the CPU.
            extremes = torch.stack(torch.aminmax(tensor))
        self._stats.append(extremes)
        self._reports.append((2, report))

    def within(self, name: str, tensor: Tensor, low: float, high: float, what: str = "") -> None:
        """``tensor`` (non-empty) must be finite and in [low, high]; ``what`` is e.g. ``" values"``."""

        def report(values: list[float]) -> None:
            smallest, largest = values
            problem = _nonfinite(smallest, largest)
            if problem is not None:
                raise ValueError(f"{name}{what} must be finite and in [{low:g}, {high:g}], got {problem}")
            if smallest < low or largest > high:
                raise ValueError(
                    f"{name}{what} must be finite and in [{low:g}, {high:g}], got range [{smallest}, {largest}]"
                )

        self._range(tensor, report)

    def positive(self, name: str, tensor: Tensor) -> None:
        """``tensor`` must be finite and > 0 (sizes in bytes, targets)."""

        def report(values: list[float]) -> None:
            smallest, largest = values
            problem = _nonfinite(smallest, largest)
            if problem is not None or smallest <= 0:
                got = problem or f"range [{smallest}, {largest}]"
                raise ValueError(f"{name} must be positive and finite, got {got}")

        self._range(tensor, report)

    def finite(self, name: str, tensor: Tensor, bound: float = math.inf) -> None:
        """``tensor`` must be finite (and within ``[-bound, bound]``)."""

        def report(values: list[float]) -> None:
            smallest, largest = values
            problem = _nonfinite(smallest, largest)
            if problem is not None:
                raise ValueError(f"{name} must be finite, got {problem}")
            if max(-smallest, largest) > bound:
                raise ValueError(f"{name} must lie in [-{bound:g}, {bound:g}], got range [{smallest}, {largest}]")

        self._range(tensor, report)

    def image(self, name: str, image: Tensor) -> None:
        """Images (N, C, H, W) must be finite; values far outside [0, 1] give a warning (another scale)."""

        def report(values: list[float]) -> None:
            low, high = values
            if _nonfinite(low, high) is not None:
                _raise_nonfinite_sample(name, image)
            if max(-low, high) > _LARGEST_PIXEL:
                raise ValueError(
                    f"{name} values must lie in [-{_LARGEST_PIXEL:g}, {_LARGEST_PIXEL:g}] (images are in [0, 1]; "
                    f"larger values would overflow the codec's arithmetic), got range [{low}, {high}]"
                )
            if high > _SCALE_WARNING[1]:
                warnings.warn(
                    f"{name} values reach {high:g}: images must be in [0, 1] (values outside are clipped); "
                    "divide 0..255 images by 255",
                    UserWarning,
                    stacklevel=_caller_stacklevel(),
                )
            elif low < _SCALE_WARNING[0]:
                warnings.warn(
                    f"{name} values reach {low:g}: images must be in [0, 1] (values outside are clipped); "
                    "map normalized images back to [0, 1]",
                    UserWarning,
                    stacklevel=_caller_stacklevel(),
                )

        # The batch's extremes in one pass (aminmax propagates NaN); the failing sample is found only when
        # there is one.
        self._range(image, report)

    def run(self) -> None:
        """Read every collected statistic with one host sync and raise the first failure."""
        if not self._stats:
            return
        device = self._stats[0].device
        with torch.no_grad():
            flat = torch.cat([s if s.device == device else s.to(device) for s in self._stats])
        values = flat.tolist()  # the call's one host sync
        if _CALL.depth > 0:
            _CALL.checked = True
        self._stats = []
        offset = 0
        for size, report in self._reports:
            report(values[offset : offset + size])
            offset += size
        self._reports = []


def _run_now(checks: ValueChecks | None) -> tuple[ValueChecks, bool]:
    """The checks to add to, and whether to run them before returning (no caller collects them)."""
    return (ValueChecks(), True) if checks is None else (checks, False)


def _type_name(value: Any) -> str:
    """The type of a value as a message names it: ``numpy.bool``, not ``bool``, for a NumPy bool."""
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def check_bool(name: str, value: Any) -> bool:
    """A Python bool (a NumPy or tensor bool is refused: flags choose code paths, not values)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {_type_name(value)}")
    return value


def check_choice(name: str, value: Any, choices: Any) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")


def check_number(
    name: str, value: Any, low: float = -math.inf, high: float = math.inf, *, integer: bool = False
) -> float:
    """A finite real number (not a bool) in [low, high], as a float (or an int with ``integer``)."""
    kind = "int" if integer else "number"
    if math.isinf(low) and math.isinf(high):
        expected = f"a finite {kind}"
    elif math.isinf(high):
        expected = f"a finite {kind} >= {low:g}"
    else:
        expected = f"finite and in [{low:g}, {high:g}]" if not integer else f"an int in [{low:g}, {high:g}]"
    if isinstance(value, bool) or not isinstance(value, Integral if integer else Real):
        raise TypeError(f"{name} must be {expected}, got {_type_name(value)} {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        number = math.inf if value > 0 else -math.inf  # type: ignore[operator]
    if not (math.isfinite(number) and low <= number <= high):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value) if integer else number  # type: ignore[call-overload]


def check_int(name: str, value: Any, low: float = -math.inf, high: float = math.inf) -> int:
    """An int (not a bool; integral floats are refused too) in [low, high]."""
    return int(check_number(name, value, low, high, integer=True))


def check_image(
    image: Any,
    checks: ValueChecks | None = None,
    name: str = "image",
    max_side: int | None = JPEG_MAX_DIMENSION,
    allow_uint8: bool = False,
) -> Tensor:
    """Validate images (*, C, H, W) and return them as (N, C, H, W), the leading dimensions flattened.

    Their values (finite; a warning off the [0, 1] scale) are added to ``checks``, or checked now. With
    ``allow_uint8``, 8-bit images (0..255) are accepted too; every value of those is valid.
    """
    if not isinstance(image, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(image).__name__}")
    if image.layout != torch.strided or image.is_nested or image.is_quantized:
        kind = "quantized" if image.is_quantized else "nested" if image.is_nested else str(image.layout)
        raise TypeError(f"{name} must be a dense (strided) tensor, got a {kind} tensor")
    eight_bit = allow_uint8 and image.dtype == torch.uint8
    if not image.is_floating_point() and not eight_bit:
        if allow_uint8:
            raise TypeError(f"{name} must be float in [0, 1] or uint8 in 0..255, got dtype {image.dtype}")
        hint = " Convert uint8 images with image.float() / 255." if image.dtype == torch.uint8 else ""
        raise TypeError(f"{name} must be a floating-point tensor with values in [0, 1], got dtype {image.dtype}.{hint}")
    if image.dtype not in IMAGE_DTYPES and not eight_bit:
        raise TypeError(f"{name} must be float16, bfloat16, float32 or float64, got dtype {image.dtype}")
    if image.ndim < 3:
        raise ValueError(
            f"{name} must have shape (*, C, H, W), e.g. (B, C, H, W) or (C, H, W), got {tuple(image.shape)}"
        )
    if image.shape[-3] not in (1, 3):
        raise ValueError(f"{name} must have 1 (grayscale) or 3 (RGB) channels, got shape {tuple(image.shape)}")
    if image.shape[-2] == 0 or image.shape[-1] == 0:
        raise ValueError(f"{name} must have a non-empty spatial size, got shape {tuple(image.shape)}")
    if max_side is not None and max(image.shape[-2:]) > max_side:
        raise ValueError(
            f"{name} sides must be at most {max_side} pixels (libjpeg's limit), got shape {tuple(image.shape)}"
        )
    batched = image if image.ndim == 4 else image.reshape(-1, *image.shape[-3:])
    batched = batched.contiguous()  # one layout, so results do not depend on strides
    if eight_bit:
        return batched
    checks, now = _run_now(checks)
    checks.image(name, batched)
    if now:
        checks.run()
    return batched


def _check_device(name: str, value: Tensor, device: torch.device) -> None:
    if value.device != device:
        raise ValueError(f"{name} is on {value.device} but image is on {device}; move it with .to(image.device)")


def check_real_tensor(name: str, value: Any) -> Tensor:
    """``value`` itself, or a TypeError if it is not a dense real-valued tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a real-valued tensor, got {_type_name(value)}")
    _check_real(name, value)
    return value


def _check_real(name: str, value: Tensor) -> None:
    if (
        value.dtype == torch.bool
        or value.is_complex()
        or (value.is_floating_point() and value.dtype not in IMAGE_DTYPES)
    ):
        raise TypeError(
            f"{name} must be a real-valued tensor (integer, float16, bfloat16, float32 or float64), "
            f"got dtype {value.dtype}"
        )
    if value.layout != torch.strided:
        raise TypeError(f"{name} must be a dense (strided) tensor, got layout {value.layout}")


def _per_sample(expected: str, value: Tensor, batch_shape: tuple[int, ...], trailing: tuple[int, ...]) -> Tensor:
    """A per-sample value of shape (*batch_shape, *trailing), or broadcastable to it, as (N, *trailing)."""
    try:
        return value.broadcast_to((*batch_shape, *trailing)).reshape(-1, *trailing)
    except RuntimeError as error:
        full = tuple((*batch_shape, *trailing))
        raise ValueError(f"{expected}, or broadcastable to {full}, got shape {tuple(value.shape)}") from error


class _AtLeastOne(FusedFunction):
    """``max(q, 1)`` forward (libjpeg codes qualities below 1 as 1), gradient 1 backward (one-sided)."""

    generate_vmap_rule = True

    @staticmethod
    def forward(quality: Tensor) -> Tensor:
        return quality.clamp_min(1.0)

    @staticmethod
    def setup_context(ctx: Any, inputs: Any, output: Any) -> None:
        pass

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad


def libjpeg_quality(quality: Tensor) -> Tensor:
    """Qualities in [0, 100] as libjpeg codes them: below 1 as 1, with the gradient of quality 1 (from above)."""
    if quality.requires_grad and torch.is_grad_enabled():
        return _AtLeastOne.apply(quality)
    return quality.clamp_min(1.0)


def check_quality(
    quality: Any,
    batch: int,
    device: torch.device,
    batch_shape: tuple[int, ...] | None = None,
    checks: ValueChecks | None = None,
) -> Tensor | None:
    """Validate a quality in [0, 100] and return it as a (N,) tensor (or None), below 1 coded as 1.

    Per-sample qualities are (N,) for the flattened batch, or broadcastable to ``batch_shape``, the
    images' leading dimensions (e.g. (B, 1) for clips (B, T, C, H, W)).
    """
    if quality is None:
        return None
    low, high = QUALITY_RANGE
    if isinstance(quality, bool) or not isinstance(quality, (Real, Tensor)):
        raise TypeError(f"quality must be a number or a tensor, got {_type_name(quality)}")
    if isinstance(quality, Tensor):
        _check_real("quality", quality)
        _check_device("quality", quality, device)
        flat = quality.ndim <= 1 and quality.numel() in (1, batch)
        expected = f"quality must be a number, a 0-d tensor or a ({batch},) tensor"
        if not flat and (batch_shape is None or quality.ndim > len(batch_shape)):
            raise ValueError(f"{expected}, got shape {tuple(quality.shape)}")
        checks, now = _run_now(checks)
        checks.within("quality", quality, low, high)
        if now:
            checks.run()
        quality = libjpeg_quality(quality)
        if quality.shape == (batch,):  # already per sample: no view to dispatch
            return quality
        if flat or batch_shape is None:
            return quality.reshape(-1).expand(batch)
        return _per_sample(expected, quality, batch_shape, ())
    number = check_number("quality", quality, low, high)
    return torch.full((batch,), max(number, 1.0), dtype=torch.float64, device=device)


def as_table(name: str, table: Any, device: torch.device) -> Tensor:
    """A quantization table given as a tensor (returned as is) or as nested lists or an array (as float32)."""
    if isinstance(table, (str, bytes)):
        raise TypeError(f"{name} must be a tensor of shape (8, 8) or (B, 8, 8), got {type(table).__name__}")
    if isinstance(table, Tensor):
        return table
    try:
        return torch.as_tensor(table, dtype=torch.float32, device=device)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise TypeError(f"{name} must be a tensor of shape (8, 8) or (B, 8, 8), got {type(table).__name__}") from error


def check_table(
    name: str,
    table: Any,
    batch: int,
    device: torch.device,
    batch_shape: tuple[int, ...] | None = None,
    checks: ValueChecks | None = None,
) -> Tensor | None:
    """Validate a quantization table and return it as (N, 8, 8) (or None).

    Per-sample tables are (N, 8, 8) for the flattened batch, or broadcastable to (*batch_shape, 8, 8).
    """
    if table is None:
        return None
    table = as_table(name, table, device)
    _check_real(name, table)
    _check_device(name, table, device)
    flat = table.ndim == 2 or (table.ndim == 3 and table.shape[0] in (1, batch))
    expected = f"{name} must have shape (8, 8) or ({batch}, 8, 8)"
    if table.shape[-2:] != (8, 8) or (not flat and (batch_shape is None or table.ndim > len(batch_shape) + 2)):
        raise ValueError(f"{expected}, got shape {tuple(table.shape)}")
    checks, now = _run_now(checks)
    checks.within(name, table, *TABLE_RANGE, what=" values")
    if now:
        checks.run()
    if not flat and batch_shape is not None:
        return _per_sample(expected, table, batch_shape, (8, 8))
    return table.expand(batch, 8, 8) if table.ndim == 3 else table.unsqueeze(0).expand(batch, 8, 8)


def check_color(color: Any, device: torch.device, checks: ValueChecks | None = None) -> tuple[Tensor, Tensor] | None:
    """Validate an RGB -> YCbCr (matrix (3, 3), offset (3,)) pair: finite, the matrix invertible (the decoder
    inverts it). Values are added to ``checks``, or checked now."""
    if color is None:
        return None
    if not isinstance(color, (tuple, list)) or len(color) != 2 or not all(isinstance(c, Tensor) for c in color):
        raise TypeError("color must be a (matrix, offset) pair of tensors with shapes (3, 3) and (3,)")
    matrix, offset = color
    if tuple(matrix.shape) != (3, 3) or tuple(offset.shape) != (3,):
        raise ValueError(
            "color must be a matrix of shape (3, 3) and an offset of shape (3,), "
            f"got {tuple(matrix.shape)} and {tuple(offset.shape)}"
        )
    if matrix.dtype not in IMAGE_DTYPES or offset.dtype not in IMAGE_DTYPES:  # float8 has no kernels to check or code
        raise TypeError(
            "color matrix and offset must be floating point (float16, bfloat16, float32 or float64), "
            f"got {matrix.dtype} and {offset.dtype}"
        )
    if matrix.layout != torch.strided or offset.layout != torch.strided:
        raise TypeError(
            f"color matrix and offset must be dense (strided) tensors, got {matrix.layout} and {offset.layout}"
        )
    _check_device("color matrix", matrix, device)
    _check_device("color offset", offset, device)
    checks, now = _run_now(checks)
    checks.finite("color matrix", matrix)
    checks.finite("color offset", offset)
    if checks.active and _readable(matrix):

        def invertible(values: list[float]) -> None:
            if not abs(values[0]) > 1e-6:  # also NaN
                raise ValueError(
                    f"color matrix must be invertible (the decoder inverts it), got determinant {values[0]}"
                )

        with torch.no_grad():
            checks.add(torch.linalg.det(matrix.double()).reshape(1), invertible)
    if now:
        checks.run()
    return matrix, offset


def check_rounding(rounding: Any) -> Any:
    """A rounding surrogate name (returned as is) or a callable, wrapped to check what it returns."""
    if isinstance(rounding, str) or not callable(rounding) or getattr(rounding, "_checked_rounding", False):
        return rounding

    def checked(x: Tensor) -> Tensor:
        try:
            y = rounding(x)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"rounding must be a callable Tensor -> Tensor approximating round; it failed: {error}"
            ) from error
        if not isinstance(y, Tensor) or y.shape != x.shape or not y.is_floating_point():
            got = f"shape {tuple(y.shape)}, dtype {y.dtype}" if isinstance(y, Tensor) else type(y).__name__
            raise ValueError(
                f"rounding must return a floating-point tensor of its input's shape {tuple(x.shape)}, got {got}"
            )
        return y if y.dtype == x.dtype else y.to(x.dtype)  # e.g. computed in float64: the codec's dtype

    checked._checked_rounding = True  # type: ignore[attr-defined]
    return checked


def check_coefficients(
    coefficients: Any, checks: ValueChecks | None = None, name: str = "coefficients", exact: bool = False
) -> None:
    """Validate hand-built (or edited) :class:`~kornia_diffjpeg.JPEGCoefficients`: a consistent set.

    The blocks' grid must be the one ``image_size`` and ``subsampling`` give, the tables (B, 8, 8), all of
    one floating dtype and device, ``batch_shape`` must hold B images; values must be finite, tables
    in [1, 255], coefficients within JPEG's 16-bit range for exact decoding (else within +-1e20, where the
    float arithmetic cannot overflow).
    """
    from kornia_diffjpeg.codec.pipeline import JPEGCoefficients  # the codec imports this module
    from kornia_diffjpeg.codec.sampling import SUBSAMPLING_FACTORS, ceil_div

    if not isinstance(coefficients, JPEGCoefficients):
        raise TypeError(f"{name} must be JPEGCoefficients (from jpeg_encode), got {type(coefficients).__name__}")
    c = coefficients
    check_choice(f"{name}.subsampling", c.subsampling, SUBSAMPLING_FACTORS)
    size = c.image_size
    if (
        not isinstance(size, (tuple, list))
        or len(size) != 2
        or not all(isinstance(s, int) and not isinstance(s, bool) or _integer_like(s) for s in size)
    ):
        raise TypeError(f"{name}.image_size must be a pair of ints (H, W), got {size!r}")
    height, width = (int(s) for s in size)
    if not (0 < height <= JPEG_MAX_DIMENSION and 0 < width <= JPEG_MAX_DIMENSION):
        raise ValueError(f"{name}.image_size must be positive and at most {JPEG_MAX_DIMENSION}, got {size!r}")
    if not isinstance(c.dtype, torch.dtype) or c.dtype not in IMAGE_DTYPES:
        raise TypeError(f"{name}.dtype must be a floating-point torch.dtype of an image, got {c.dtype!r}")
    luma = c.luma
    if not isinstance(luma, Tensor) or not luma.is_floating_point() or luma.dtype not in IMAGE_DTYPES:
        got = luma.dtype if isinstance(luma, Tensor) else type(luma).__name__
        raise TypeError(f"{name}.luma must be a floating-point tensor (B, 1, rows, cols, 64), got {got}")
    batch, device, dtype = luma.shape[0] if luma.ndim else 0, luma.device, luma.dtype
    grid = (ceil_div(height, 8), ceil_div(width, 8))
    if luma.ndim != 5 or tuple(luma.shape[1:]) != (1, *grid, 64):
        raise ValueError(
            f"{name}.luma must have shape (B, 1, {grid[0]}, {grid[1]}, 64) for image_size {(height, width)}, "
            f"got {tuple(luma.shape)}"
        )
    parts: dict[str, Tensor | None] = {"qt_y": c.qt_y}
    if c.chroma is None:
        if c.qt_c is not None:
            raise ValueError(f"{name}.qt_c must be None for grayscale coefficients (chroma is None)")
    else:
        factor_w, factor_h = SUBSAMPLING_FACTORS[c.subsampling]
        chroma_grid = (ceil_div(ceil_div(height, factor_h), 8), ceil_div(ceil_div(width, factor_w), 8))
        chroma = c.chroma
        if not isinstance(chroma, Tensor) or chroma.shape != (batch, 2, *chroma_grid, 64):
            chroma_got = tuple(chroma.shape) if isinstance(chroma, Tensor) else type(chroma).__name__
            raise ValueError(
                f"{name}.chroma must have shape ({batch}, 2, {chroma_grid[0]}, {chroma_grid[1]}, 64) for "
                f"image_size {(height, width)} and subsampling {c.subsampling!r}, got {chroma_got}"
            )
        parts.update(chroma=chroma, qt_c=c.qt_c)
    for part, tensor in parts.items():
        if part.startswith("qt") and (not isinstance(tensor, Tensor) or tensor.shape != (batch, 8, 8)):
            shape_or_type = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
            raise ValueError(f"{name}.{part} must be a tensor of shape ({batch}, 8, 8), got {shape_or_type}")
        assert tensor is not None  # chroma checked above, tables just now
        if tensor.dtype != dtype:
            raise TypeError(f"{name}.{part} must have the dtype of {name}.luma ({dtype}), got {tensor.dtype}")
        if tensor.device != device:
            raise ValueError(f"{name}.{part} is on {tensor.device} but {name}.luma is on {device}")
    shape = c.batch_shape
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise TypeError(f"{name}.batch_shape must be a tuple of non-negative ints, got {shape!r}")
    if math.prod(shape) != batch:
        raise ValueError(f"{name}.batch_shape {shape} must hold the {batch} images of the blocks")
    checks, now = _run_now(checks)
    bound = 32767.0 if exact else _LARGEST_COEFFICIENT  # libjpeg's coefficients are 16-bit
    checks.finite(f"{name}.luma", luma, bound)
    if c.chroma is not None and c.qt_c is not None:
        checks.finite(f"{name}.chroma", c.chroma, bound)
        checks.within(f"{name}.qt_c", c.qt_c, *TABLE_RANGE, what=" values")
    checks.within(f"{name}.qt_y", c.qt_y, *TABLE_RANGE, what=" values")
    if now:
        checks.run()


def _integer_like(value: Any) -> bool:
    """numpy and 0-d tensor integers (``array.shape[:2]`` gives Python ints, but user code may not)."""
    if isinstance(value, Tensor):
        return value.ndim == 0 and not value.is_floating_point() and value.dtype != torch.bool
    return hasattr(value, "__index__") and not isinstance(value, bool)
