#!/usr/bin/env bash
# Create .venv (if missing) and install the package with the pinned dev environment.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/python -m pip install -q -c constraints.txt torch==2.13.0
.venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
# The repository root on the environment's path: tests, benchmarks and examples import the support
# package testing/ (and examples/), which the wheel does not install.
.venv/bin/python -c 'import pathlib, sysconfig; (pathlib.Path(sysconfig.get_paths()["purelib"]) / "kornia_diffjpeg_repo.pth").write_text(str(pathlib.Path.cwd()) + "\n")'
# foolbox only for its labelled ImageNet photos (read as files, never imported): its own
# dependencies are not needed.
.venv/bin/python -m pip install -q -c constraints.txt --no-deps foolbox
# Fashion-MNIST for examples/robust_training.py comes from Debian; best effort where apt is usable.
FASHION=/usr/share/datasets/fashion-mnist
if [ ! -d "$FASHION" ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1; } \
        || echo "setup_env: could not install dataset-fashion-mnist (only examples/robust_training.py needs it)"
fi
