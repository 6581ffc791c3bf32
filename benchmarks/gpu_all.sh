#!/usr/bin/env bash
# Every GPU figure in one run (benchmarks/gpu_all.py), on a machine without network:
# installs the carried wheels (.whl/, see benchmarks/README.md "GPU (H200)") into /tmp/site,
# runs genjax from this source tree, and writes everything under $OUT.
#   bash benchmarks/gpu_all.sh            # on the GPU, ~9 min (the device's per-call limit: 600 s)
#   bash benchmarks/gpu_all.sh --smoke    # the same on a CPU with tiny sizes
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
OUT=${OUT:-/tmp/genjax_gpu_out}
mkdir -p "$OUT"
# Bounded twice: each part has its own limit inside, and the whole run has this one.
# (At most 8 files come back from $OUT: gpu_figures.jsonl, gpu_all.log and 6 tars.)
limit=580; [[ " $* " == *" --smoke "* ]] && limit=1100
timeout -k 10 $limit python3 benchmarks/gpu_all.py --out "$OUT" "$@"
echo "gpu_all.sh: exit $? after ${SECONDS}s; files in $OUT:"; ls -la "$OUT"
