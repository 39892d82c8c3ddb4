#!/usr/bin/env bash
# Wheels of the packages the lent GPU machines lack (kornia, kornia_rs, jpeglib), for their Python 3.12,
# into .whl/ (ignored by git), at the versions of constraints.txt. Carry .whl to the machine and run
# scripts/gpu_check.sh there, which installs them first.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
pins=$(grep -iE '^(kornia|kornia_rs|jpeglib)==' constraints.txt)
mkdir -p .whl
# shellcheck disable=SC2086  # one argument per pin
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl $pins
ls -1 .whl
