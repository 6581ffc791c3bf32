#!/usr/bin/env bash
# Continues runs/gpu_beta on a GPU machine without network (continue_on_gpu.py says how):
#   bash experiments/beta_vae_dsprites/continue_on_gpu.sh TRAIN_S EVAL_S
# installs the carried wheels (.whl/, benchmarks/README.md "GPU (H200)"), trains for TRAIN_S
# seconds, evaluates for at most EVAL_S, and packs every run directory into $OUT.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
OUT=${OUT:-/tmp/genjax_gpu_out}; mkdir -p "$OUT"
script=experiments/beta_vae_dsprites/continue_on_gpu.py
export JAX_COMPILATION_CACHE_DIR=/tmp/genjax_gpu_jax_cache
timeout -k 20 $(( $1 + 90 )) python3 $script --part=train --train_s="$1" --eval_s=0 --out "$OUT" 2>&1 | grep -v "^\s*$" | tail -40
echo "train: exit ${PIPESTATUS[0]} at ${SECONDS}s"
python3 $script --part=evaluate --train_s=0 --eval_s="$2" --out "$OUT"
echo "evaluate: done at ${SECONDS}s"
python3 $script --part=pack --train_s=0 --eval_s=0 --out "$OUT"
for f in runs/gpu_beta/*/eval_gpu.log; do echo "== $f"; grep -v Warning "$f" | grep -E "^(elbo|recon|disent|genjax)" | cut -c1-600; done
echo "continue_on_gpu.sh: done after ${SECONDS}s"; ls -la "$OUT"
