"""Multi-host start-up: joins a distributed job before anything touches a device.

The mesh and the shardings themselves are pure helpers in `genjax.core.mesh`.
"""
from __future__ import annotations

import os

import jax

from genjax.errors import ConfigError


def maybe_initialize_distributed() -> None:
  """Joins a multi-host job when the environment describes one.

  Must run before anything touches a device. GENJAX_DISTRIBUTED decides:
    unset or 'auto': join when JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and
      JAX_PROCESS_ID are set (explicit), under SLURM with more than one task (JAX reads the
      SLURM_* variables of an `srun` step), or when TPU_WORKER_HOSTNAMES lists several hosts
      (GKE TPU pods);
    '1': always call `jax.distributed.initialize()` and let JAX detect the cluster, e.g.
      a Cloud TPU VM pod slice (found through the metadata server, not the environment),
      Open MPI or Kubernetes;
    '0': never (one process inside a multi-task SLURM allocation).
  Multi-process runs need it even where the devices would work without it (TPU pods):
  Orbax's asynchronous checkpoints synchronise the hosts through its service.
  """
  if jax.distributed.is_initialized():
    return
  mode = os.environ.get("GENJAX_DISTRIBUTED", "auto")
  if mode not in ("auto", "0", "1"):
    raise ConfigError(f"GENJAX_DISTRIBUTED={mode!r} must be 'auto', '0' or '1'")
  if mode == "0":
    return
  if "JAX_COORDINATOR_ADDRESS" in os.environ:
    missing = [v for v in ("JAX_NUM_PROCESSES", "JAX_PROCESS_ID") if v not in os.environ]
    if missing:
      raise ConfigError(f"JAX_COORDINATOR_ADDRESS is set but {' and '.join(missing)} not; "
                        "set all three (or none)")
    jax.distributed.initialize(
        coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
        num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
        process_id=int(os.environ["JAX_PROCESS_ID"]))
    return
  slurm = int(os.environ.get("SLURM_NTASKS", "1")) > 1
  gke_tpu_pod = "," in os.environ.get("TPU_WORKER_HOSTNAMES", "")
  if mode == "1" or slurm or gke_tpu_pod:
    jax.distributed.initialize()
