"""Training data and loop of :class:`~kornia_diffjpeg.filesize.JPEGFileSizeRegressor` for the example scripts.

Random photo crops labelled by the exact count.

Labels come from :func:`~kornia_diffjpeg.filesize.exact.jpeg_file_size` (the byte count OpenCV and
Pillow produce, computed from the coefficients), so no encoder is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from kornia_diffjpeg import jpeg_encode, jpeg_file_size
from kornia_diffjpeg.filesize.exact import header_size
from kornia_diffjpeg.filesize.regressor import JPEGFileSizeRegressor, block_features, file_size_loss

__all__ = [
    "FileSizeBatch",
    "file_size_batch",
    "fit_rate_prior",
    "mean_absolute_relative_error",
    "train_file_size_regressor",
]


@dataclass
class FileSizeBatch:
    """Crops, their coding settings and the exact file sizes (bytes) they code to."""

    images: Tensor
    quality: Tensor | None
    qt_y: Tensor | None
    qt_c: Tensor | None
    sizes: Tensor

    def encode(self, subsampling: str = "4:2:0"):  # noqa: ANN201 (JPEGCoefficients)
        """The differentiable (surrogate) coefficients the regressor reads."""
        return jpeg_encode(self.images, self.quality, qt_y=self.qt_y, qt_c=self.qt_c, subsampling=subsampling)


def _random_crops(photos: Sequence[Tensor], count: int, size: tuple[int, int], generator: torch.Generator) -> Tensor:
    crops = []
    for index in torch.randint(len(photos), (count,), generator=generator).tolist():
        photo = photos[index]
        top = int(torch.randint(photo.shape[-2] - size[0] + 1, (1,), generator=generator))
        left = int(torch.randint(photo.shape[-1] - size[1] + 1, (1,), generator=generator))
        crops.append(photo[:, top : top + size[0], left : left + size[1]])
    return torch.stack(crops)


def file_size_batch(
    photos: Sequence[Tensor],
    batch_size: int,
    size: tuple[int, int],
    generator: torch.Generator,
    table_fraction: float = 0.25,
    subsampling: str = "4:2:0",
) -> FileSizeBatch:
    """Random crops of ``photos`` ((3, H, W) in [0, 1]) at random integer qualities in [1, 99], or with
    random tables uniform in [1, 255] (a ``table_fraction`` of the batches), labelled with the exact size.

    Example:
        >>> batch = file_size_batch([torch.rand(3, 40, 40)], 2, (16, 16), torch.Generator().manual_seed(0))
        >>> batch.images.shape, batch.sizes.dtype
        (torch.Size([2, 3, 16, 16]), torch.int64)
    """
    images = _random_crops(photos, batch_size, size, generator)
    quality = qt_y = qt_c = None
    if float(torch.rand((), generator=generator)) < table_fraction:
        qt_y, qt_c = (torch.randint(1, 256, (batch_size, 8, 8), generator=generator).float() for _ in range(2))
    else:
        quality = torch.randint(1, 100, (batch_size,), generator=generator).float()
    sizes = jpeg_file_size(images, quality, qt_y=qt_y, qt_c=qt_c, subsampling=subsampling)
    return FileSizeBatch(images, quality, qt_y, qt_c, sizes)


@torch.no_grad()
def fit_rate_prior(
    photos: Sequence[Tensor],
    batches: int = 300,
    *,
    batch_size: int = 8,
    sizes: Sequence[tuple[int, int]] = ((64, 64), (96, 96), (128, 128)),
    seed: int = 0,
) -> tuple[float, ...]:
    """Least-squares fit of a :data:`~kornia_diffjpeg.filesize.regressor.RATE_PRIOR`: bytes per block
    of each :func:`~kornia_diffjpeg.filesize.regressor.block_features` channel and a constant.

    Minimizes the squared relative error of ``header + blocks * (mean features @ w + b)`` against the
    exact size, on the crops :func:`train_file_size_regressor` draws with the same arguments.

    Example:
        >>> len(fit_rate_prior([torch.rand(3, 40, 40)], 2, sizes=[(16, 16)]))
        5
    """
    generator = torch.Generator().manual_seed(seed)
    rows, targets = [], []
    for step in range(batches):
        batch = file_size_batch(photos, batch_size, sizes[step % len(sizes)], generator)
        c = batch.encode()
        planes = [c.luma[:, 0], *(() if c.chroma is None else c.chroma.unbind(1))]
        features = torch.cat([block_features(plane) for plane in planes], dim=1).double()
        size = batch.sizes.double()
        design = torch.cat((features.mean(1), torch.ones_like(size)[:, None]), dim=1) * features.shape[1]
        rows.append(design / size[:, None])
        targets.append(1.0 - header_size(c.channels) / size)
    return tuple(torch.linalg.lstsq(torch.cat(rows), torch.cat(targets)[:, None]).solution[:, 0].tolist())


def mean_absolute_relative_error(predicted: Tensor, target: Tensor) -> float:
    """MARE of predicted sizes against the true ones."""
    target = target.double()
    return float(((predicted.detach().double() - target).abs() / target).mean())


def train_file_size_regressor(
    model: JPEGFileSizeRegressor,
    photos: Sequence[Tensor],
    steps: int,
    *,
    batch_size: int = 8,
    sizes: Sequence[tuple[int, int]] = ((64, 64), (96, 96), (128, 128)),
    lr: float = 2e-3,
    correlation_weight: float = 0.1,
    seed: int = 0,
    log_every: int = 0,
) -> list[float]:
    """Train with AdamW (cosine-decayed) on fresh labelled crops each step; returns the loss per step.

    Example:
        >>> model = JPEGFileSizeRegressor(dim=16, depth=1)
        >>> losses = train_file_size_regressor(model, [torch.rand(3, 40, 40)], 2, batch_size=2, sizes=[(16, 16)])
        >>> len(losses)
        2
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(steps, 1))
    losses = []
    model.train()
    for step in range(steps):
        size = sizes[step % len(sizes)]
        with torch.no_grad():
            batch = file_size_batch(photos, batch_size, size, generator)
            coefficients = batch.encode()
        loss = file_size_loss(model(coefficients), batch.sizes, correlation_weight)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if log_every and (step + 1) % log_every == 0:
            recent = losses[-log_every:]
            print(f"step {step + 1}/{steps}  loss {sum(recent) / len(recent):.4f}", flush=True)
    model.eval()
    return losses
