"""The documentation's code: every ``python`` block of the README and of the guide pages runs.

Each page's blocks run in order in one namespace, as a reader would paste them. The README's
quickstart also runs against the installed wheel in ``scripts/check_wheel.sh``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "README.md",
    "docs/index.md",
    "docs/getting-started.md",
    "docs/modes.md",
    "docs/augmentation.md",
    "docs/filesize.md",
    "docs/control.md",
    "docs/attacks.md",
]


def _snippets():
    spec = importlib.util.spec_from_file_location("run_snippets", ROOT / "scripts" / "run_snippets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_run(page):
    blocks = _snippets().python_blocks((ROOT / page).read_text(encoding="utf-8"))
    assert blocks, f"{page} has no python block"
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for number, code in enumerate(blocks, 1):
        exec(compile(code, f"{page}:block{number}", "exec"), namespace)  # noqa: S102 (our own docs)


def test_quickstart_section_is_found():
    snippets = _snippets()
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = snippets.python_blocks(snippets.section(text, "Quickstart"))
    assert quickstart and all("import torch" in block for block in quickstart)
    assert all(name not in block for block in quickstart for name in ("cv2", "PIL", "skimage"))
