#!/usr/bin/env bash
# Trains every cell of the likelihood table (one after another), then writes the table.
# Needs genjax on the PATH (the venv).
#   bash experiments/likelihood_table/run_all.sh [ROOT]    (default runs/likelihood_table)
# Wall-clock seconds per cell go to ROOT/timings.tsv. Extra VAE ring8 seeds 1-4 show how
# often its training lands in the folded optimum (README).
set -euo pipefail
root=${1:-runs/likelihood_table}
config=experiments/likelihood_table/config.py
mkdir -p "$root"
train() {  # cell variant [overrides...]
  local cell=$1 variant=$2; shift 2
  local start=$SECONDS
  genjax train --config="$config:$variant" --workdir="$root/$cell" "$@" > "$root/$cell.log" 2>&1
  printf '%s\t%d\n' "$cell" $((SECONDS - start)) | tee -a "$root/timings.tsv"
}
for cell in vae_ring8 diffusion_ring8 vae_digits diffusion_digits; do
  train "$cell" "$cell"
done
for seed in 1 2 3 4; do
  train "vae_ring8_seed$seed" vae_ring8 --config.seed=$seed
done
python experiments/likelihood_table/table.py --root="$root"
