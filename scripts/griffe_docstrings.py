"""Griffe extension used by the docs build (``mkdocs.yml``): Kornia-style docstrings for mkdocstrings.

The package's docstrings follow Kornia's habits: Sphinx roles (``:func:`diff_jpeg```) inside Google
sections, and an ``Example:`` section of doctests. Griffe's Google parser knows ``Examples:`` only and
leaves roles as text, so this extension rewrites both when the docs are built; the sources stay as
they are (the doctests run under pytest either way).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:func|class|mod|meth|attr|data|obj|exc):`(~?)([^`]+)`")
_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def rewrite(text: str) -> str:
    """``:func:`~a.b.c``` -> ```c```, ``:class:`a.B``` -> ```a.B```, ``Example:`` -> ``Examples:``."""
    return _EXAMPLE.sub(r"\1Examples:", _ROLE.sub(_role, text))


class KorniaDocstrings(griffe.Extension):
    """Rewrite every docstring once the object tree is complete."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
