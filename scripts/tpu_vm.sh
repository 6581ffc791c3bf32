#!/bin/bash
# Train one genjax run on a Cloud TPU VM slice: the same `genjax train` on every worker host.
#
#   TPU_NAME=my-v4-32 ZONE=us-central2-b scripts/tpu_vm.sh configs/vae.py:sprites /mnt/shared/runs/bvae4 [--config.a.b=v ...]
#
# Edit (or set in the environment): TPU_NAME, ZONE, PROJECT (default: gcloud's project) and
# GENJAX_DIR, the directory on every worker that holds the genjax checkout and its venv (with
# jax[tpu] installed), e.g. prepared once with
#   gcloud compute tpus tpu-vm ssh $TPU_NAME --zone=$ZONE --worker=all \
#     --command="git clone REPO ~/genjax && cd ~/genjax && python3 -m venv venv && venv/bin/pip install -e . 'jax[tpu]'"
#
# GENJAX_DISTRIBUTED=1 makes genjax call jax.distributed.initialize(), which finds the other
# workers through the TPU metadata server (a TPU VM does not describe its slice in environment
# variables). data.batch_size is the global batch and must divide by the slice's total device
# count. WORKDIR must be on a filesystem mounted at the same path on every worker (Filestore or
# another NFS; genjax writes POSIX paths, not gs:// URLs): all workers write into each
# checkpoint there. CONFIG is relative to GENJAX_DIR. The training processes live as long as
# this ssh session: run the script inside tmux or screen. To resume, run the same command
# again: it continues from the newest complete checkpoint.
set -euo pipefail

TPU_NAME=${TPU_NAME:?set TPU_NAME}
ZONE=${ZONE:?set ZONE}
PROJECT=${PROJECT:-$(gcloud config get-value project 2>/dev/null)}
GENJAX_DIR=${GENJAX_DIR:-'~/genjax'}  # expanded on the workers

if [[ $# -lt 2 ]]; then
  echo "usage: TPU_NAME=... ZONE=... $0 CONFIG WORKDIR [--config.a.b=v ...]" >&2
  exit 2
fi
args=$(printf '%q ' "--config=$1" "--workdir=$2" "${@:3}")

gcloud compute tpus tpu-vm ssh "$TPU_NAME" --zone="$ZONE" --project="$PROJECT" --worker=all \
  --command="cd $GENJAX_DIR && source venv/bin/activate && GENJAX_DISTRIBUTED=1 genjax train $args"
