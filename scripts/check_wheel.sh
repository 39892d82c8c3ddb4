#!/usr/bin/env bash
# Build the wheel, check that it holds the library only, install it with torch only (no extras) into a
# fresh virtual environment and run the README's quickstart code blocks there.
#
#   bash scripts/check_wheel.sh            (after scripts/setup_env.sh; about 1-2 minutes)
#
# BUILD_PYTHON is the environment that builds the wheel (default .venv/bin/python, from setup_env.sh:
# it has the pinned setuptools); PYTHON the interpreter of the fresh environment (default: the one
# behind BUILD_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
builder=${BUILD_PYTHON:-.venv/bin/python}
[ -x "$builder" ] || { echo "check_wheel: $builder not found: run bash scripts/setup_env.sh first" >&2; exit 1; }
python=${PYTHON:-$("$builder" -c 'import sys; print(sys._base_executable)')}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. Build from a copy of the working tree (tracked and untracked-but-not-ignored files), so that a
#    stale build/ directory cannot leak old modules into the wheel.
echo "check_wheel: building the wheel"
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard \
    | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$work/src"
"$builder" -m pip wheel -q --no-deps --no-build-isolation -w "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/kornia_diffjpeg-*.whl)

# 2. The library only: no test, benchmark or example support module.
"$builder" - "$wheel" <<'PY'
import re
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
print(f"wheel {sys.argv[1].rsplit('/', 1)[-1]}: {len(names)} files")
for name in names:
    print(f"  {name}")
forbidden = re.compile(r"(^|/)(testing|tests|benchmarks|examples|scripts|docs)/|(^|/)(reference|datasets|pretrained)\.py$")
bad = [name for name in names if forbidden.search(name)]
packages = {name.split("/", 1)[0] for name in names}
unexpected = {p for p in packages if not (p == "kornia_diffjpeg" or p.startswith("kornia_diffjpeg-"))}
if bad or unexpected:
    sys.exit(f"check_wheel: the wheel holds support code: {bad or sorted(unexpected)}")
if "kornia_diffjpeg/py.typed" not in names:
    sys.exit("check_wheel: the wheel lacks kornia_diffjpeg/py.typed")
PY

# 3. A fresh environment with torch only (pinned: an unpinned torch pulls a multi-GB CUDA build), then
#    the wheel without extras; constraints.txt pins kornia and numpy as in development.
echo "check_wheel: installing into a fresh virtual environment"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q -c constraints.txt torch==2.13.0
"$work/venv/bin/python" -m pip install -q -c constraints.txt "$wheel"

# 4. The README's quickstart, run outside the repository against the installed wheel.
cd "$work"
"$work/venv/bin/python" - <<'PY'
import importlib.util
import sys

import kornia_diffjpeg

missing_extras = [m for m in ("cv2", "PIL", "skimage") if importlib.util.find_spec(m) is None]
print(f"check_wheel: kornia_diffjpeg {kornia_diffjpeg.__version__} from {kornia_diffjpeg.__file__}")
if "site-packages" not in kornia_diffjpeg.__file__:
    sys.exit("check_wheel: kornia_diffjpeg was not imported from the installed wheel")
if len(missing_extras) != 3:
    sys.exit(f"check_wheel: the fresh environment has optional packages: {missing_extras}")
PY
"$work/venv/bin/python" "$repo/scripts/run_snippets.py" "$repo/README.md" --section Quickstart
echo "check_wheel: OK"
