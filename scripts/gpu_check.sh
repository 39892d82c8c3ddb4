#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one run: the test suite on CUDA (the tests that take the device
# fixture run there), the GPU rows of benchmarks/speed.py and the CUDA section of benchmarks/files.py.
# Logs go to $OUT (or /tmp/gpu_check).
#
# The lent GPU machines hold a CUDA build of torch but not kornia, kornia_rs or jpeglib: fetch their
# wheels here first with `bash scripts/gpu_wheels.sh` (into .whl/) and carry .whl there.
#
#   bash scripts/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/gpu_check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
if [ -d .whl ]; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || exit 1
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
"$python" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name(0))" \
    || exit 1
status=0
"$python" -m pytest -q -p no:cacheprovider --device cuda -m "not slow" tests 2>&1 | tee "$out/tests.log" || status=1
"$python" benchmarks/speed.py --device cuda 2>&1 | tee "$out/speed.log" || status=1
"$python" -c "import sys; sys.path.insert(0, 'benchmarks'); import files; files.cuda_section()" 2>&1 \
    | tee "$out/files_cuda.log" || status=1
exit $status
