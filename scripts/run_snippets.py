"""Run the ``python`` code blocks of a Markdown file, in order, in one namespace.

Used by ``scripts/check_wheel.sh`` to run the README's quickstart against the installed wheel, so
the snippets users copy are the ones tested. Only the standard library is imported here.

    python scripts/run_snippets.py README.md --section Quickstart
    python scripts/run_snippets.py docs/modes.md
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

_FENCE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def section(text: str, title: str) -> str:
    """The text under the heading ``title`` (any level), up to the next heading of the same or a higher level."""
    match = re.search(rf"^(#+) {re.escape(title)}\s*$", text, re.MULTILINE)
    if match is None:
        raise SystemExit(f"no heading {title!r}")
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.MULTILINE)
    return rest if end is None else rest[: end.start()]


def python_blocks(text: str) -> list[str]:
    """The code of each fenced ``python`` block of a Markdown text, in order."""
    return _FENCE.findall(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", type=Path)
    parser.add_argument("--section", help="only the blocks under this heading")
    args = parser.parse_args()
    text = args.path.read_text(encoding="utf-8")
    if args.section:
        text = section(text, args.section)
    blocks = python_blocks(text)
    if not blocks:
        raise SystemExit(f"no python code block in {args.path}" + (f" under {args.section!r}" if args.section else ""))
    namespace: dict[str, object] = {"__name__": "__main__"}
    for number, code in enumerate(blocks, 1):
        print(f"--- {args.path} block {number}/{len(blocks)} ({code.count(chr(10))} lines)", flush=True)
        exec(compile(code, f"{args.path}:block{number}", "exec"), namespace)  # noqa: S102 (our own docs)
    print(f"ran {len(blocks)} python code block(s) of {args.path}", file=sys.stderr)


if __name__ == "__main__":
    main()
