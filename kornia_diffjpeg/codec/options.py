"""The names of the coding modes and chroma layouts, as ``Literal`` types for annotations."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["MODES", "SUBSAMPLINGS", "ModeName", "Subsampling"]

#: A coding mode: ``"surrogate"`` (smooth), ``"ste"`` (straight-through) or ``"exact"`` (libjpeg-turbo).
ModeName = Literal["surrogate", "ste", "exact"]
#: A chroma layout: ``"4:2:0"`` (half size both ways), ``"4:2:2"`` (half width) or ``"4:4:4"`` (full).
Subsampling = Literal["4:2:0", "4:2:2", "4:4:4"]

MODES: tuple[ModeName, ...] = get_args(ModeName)
SUBSAMPLINGS: tuple[Subsampling, ...] = get_args(Subsampling)
