"""Devices as a mesh, and the shardings that lay batches and parameters on it.

One code path for 1 CPU, 8 GPUs and a TPU pod: jit with NamedSharding on a 1-D mesh
whose axis 'data' splits the batch; parameters are replicated and XLA inserts the
gradient reduction (no hand-written collectives, no pmap). Pure helpers, so training,
evaluation and data hooks share them without importing the trainer.
"""
from __future__ import annotations

import os

import jax
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P
import numpy as np

from genjax.errors import ConfigError

DATA_AXIS = "data"


def usable_cores() -> int:
  """The CPU cores this process may run on (`taskset` narrows them; os.cpu_count() would
  not see it)."""
  if hasattr(os, "sched_getaffinity"):
    return len(os.sched_getaffinity(0))
  return os.cpu_count() or 1


def make_mesh() -> Mesh:
  """A 1-D mesh over every device of every host, with an Auto (not Explicit) data axis.

  Auto axes let code slice a batch-sharded array (x[:8]) without sharding-type errors.
  The devices are grouped by host in process order (a stable sort keeps jax.make_mesh's
  order within a host), so host p holds rows [p * B/P, (p + 1) * B/P) of a global batch:
  the contiguous slice that the input pipeline hands it, whatever the cluster's topology.
  """
  auto = jax.make_mesh((jax.device_count(),), (DATA_AXIS,), axis_types=(AxisType.Auto,))
  devices = sorted(auto.devices.flat, key=lambda d: d.process_index)
  return Mesh(np.array(devices), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def replicate(tree, mesh: Mesh):
  """Values that are equal on every host -> arrays replicated over the whole mesh.

  The compiled step runs under jax.transfer_guard('disallow'), so its small inputs (keys,
  hparams) must already live on every device; an array left on the default device would
  need a copy there. An identity jit places them: `jax.device_put` refuses to put a PRNG
  key on devices of other hosts.
  """
  return jax.jit(lambda t: t, out_shardings=replicated(mesh))(tree)


def batch_sharding(mesh: Mesh, leading_axes: int = 0) -> NamedSharding:
  """Splits axis `leading_axes` (the batch) over 'data'; earlier axes (e.g. scan) stay whole."""
  return NamedSharding(mesh, P(*([None] * leading_axes), DATA_AXIS))


def check_batch_divisible(batch_size: int, name: str) -> None:
  if batch_size % jax.device_count():
    raise ConfigError(
        f"data.{name}={batch_size} must be divisible by the {jax.device_count()} devices")


def to_global(local: dict[str, np.ndarray], sharding: NamedSharding) -> dict[str, jax.Array]:
  """This host's share of a batch -> global arrays laid out on the mesh."""
  return {k: jax.make_array_from_process_local_data(sharding, v) for k, v in local.items()}
