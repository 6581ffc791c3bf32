"""Everything a run needs before its first step, shared by `train`, `eval` and `sample`:
the mesh, the data, the family, the derived keys and the abstract (shape-only) state.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from genjax import config as gconfig
from genjax import data as gdata
from genjax import models
from genjax.data.base import Source
from genjax.errors import CheckpointError, ConfigError
from genjax.evals.context import EvalContext
from genjax.train import parallel
from genjax.train.checkpoint import Checkpointer

# Named streams derived from config.seed; nothing random is kept as Python state.
INIT_STREAM, TRAIN_STREAM, EVAL_STREAM = 0, 1, 2


def init_accumulator(metric_names: tuple[str, ...]) -> dict:
  """Device-side running sums since the last log, and the first non-finite step seen."""
  return {"sums": {k: jnp.zeros((), jnp.float32) for k in metric_names},
          "count": jnp.zeros((), jnp.int32),
          "bad_step": jnp.full((), -1, jnp.int32), "bad_metric": jnp.zeros((), jnp.int32)}


@dataclasses.dataclass
class Session:
  """A config bound to devices, data and a family, ready to initialise or restore."""
  config: ml_collections.ConfigDict
  workdir: str
  mesh: jax.sharding.Mesh
  train: Source
  test: Source
  family: Any
  hp: dict
  key: jax.Array
  abstract_state: Any
  abstract_acc: Any
  metric_names: tuple[str, ...]

  @property
  def replicated(self):
    return parallel.replicated(self.mesh)

  def rng(self, stream: int) -> jax.Array:
    return jax.random.fold_in(self.key, stream)

  def for_member(self, config: ml_collections.ConfigDict, workdir: str) -> "Session":
    """This session for another population member: same data, family and shapes, but its
    own config (hparams, seed), run directory, traced hparams and keys."""
    gconfig.validate(config)
    return dataclasses.replace(
        self, config=config, workdir=workdir,
        hp=parallel.replicate(gconfig.hparams_as_arrays(config), self.mesh),
        key=parallel.replicate(jax.random.key(config.seed), self.mesh))

  def init_state(self):
    example = self.train.get_batch(np.arange(1))
    init = jax.jit(self.family.init, out_shardings=self.replicated)
    return init(self.rng(INIT_STREAM), example, self.hp)

  def init_acc(self):
    return jax.jit(init_accumulator, static_argnums=0, out_shardings=self.replicated)(
        self.metric_names)

  def checkpointer(self) -> Checkpointer:
    return Checkpointer(self.workdir, self.config.train.keep_checkpoints,
                        gconfig.fingerprint(self.config))

  def restore(self, checkpointer: Checkpointer):
    """(step, state, acc, data_state) of the newest readable checkpoint, or None."""
    return checkpointer.restore_latest(_with_sharding(self.abstract_state, self.replicated),
                                       _with_sharding(self.abstract_acc, self.replicated))

  def eval_context(self, state, step: int) -> EvalContext:
    return EvalContext(config=self.config, family=self.family, state=state, step=step,
                       hp=self.hp, rng=self.rng(EVAL_STREAM), test=self.test, mesh=self.mesh,
                       workdir=self.workdir)


def open_session(config: ml_collections.ConfigDict, workdir: str) -> Session:
  """Validates config, joins a multi-host job if any, loads the data and builds the family."""
  gconfig.validate(config)
  parallel.maybe_initialize_distributed()
  mesh = parallel.make_mesh()
  parallel.check_batch_divisible(config.data.batch_size, "batch_size")
  train = gdata.load(config.data, "train")
  test = gdata.load(config.data, "test")
  if config.data.batch_size > len(train):
    raise ConfigError(f"data.batch_size={config.data.batch_size} is larger than the "
                      f"{len(train)} training examples of '{train.info.name}'; lower "
                      "data.batch_size" + (" or raise data.num_train" if config.data.num_train
                                           else ""))
  family = models.build_family(config, train.info)
  hp = parallel.replicate(gconfig.hparams_as_arrays(config), mesh)
  key = parallel.replicate(jax.random.key(config.seed), mesh)
  example = train.get_batch(np.arange(config.data.batch_size))  # shapes only: eval_shape
  abstract_state = jax.eval_shape(family.init, key, example, hp)
  _, metric_shapes = jax.eval_shape(family.train_step, abstract_state, example, key, hp)
  names = tuple(sorted(metric_shapes))
  return Session(config=config, workdir=workdir, mesh=mesh, train=train, test=test, family=family,
                 hp=hp, key=key, abstract_state=abstract_state,
                 abstract_acc=jax.eval_shape(lambda: init_accumulator(names)), metric_names=names)


# What may change for a use of a trained run: how a diffusion model samples.
_SAMPLING_KEYS = ("model.sampler", "model.sample_steps", "model.eta", "model.ode_rtol",
                  "model.ode_atol")


def apply_use_overrides(config: ml_collections.ConfigDict, overrides: dict[str, str]) -> None:
  """Sets what a use of a trained run may change (evaluator options, the sampling keys) on
  config in place; refuses any other key, which would describe another model."""
  for key, value in overrides.items():
    if not (key.startswith("evals.") or key in _SAMPLING_KEYS):
      raise ConfigError(f"config.{key} cannot change after training; only config.evals.* (and "
                        "the sampling flags) may be set for a trained run")
    if key.startswith("evals."):
      gconfig.set_eval_option(config, key, value)
    else:
      gconfig.apply_overrides(config, {key: value})


def load_trained(workdir: str, overrides: dict | None = None) -> tuple[Session, EvalContext]:
  """The session and an evaluation context for the latest checkpoint of a run directory.

  Args:
    workdir: the run directory.
    overrides: dotted config keys to change for this use only: a diffusion model's
      sampler, step count and eta, or `evals.NAME.OPTION` (an evaluator's protocol
      size). The checkpoint is still matched against the saved config's fingerprint.
  """
  config = gconfig.read_saved(workdir)
  fingerprint = gconfig.fingerprint(config)
  apply_use_overrides(config, overrides or {})
  session = open_session(config, workdir)
  # Read-only: a `train` may be running in this directory; only it moves or deletes steps.
  checkpointer = Checkpointer(workdir, config.train.keep_checkpoints, fingerprint, read_only=True)
  try:
    restored = session.restore(checkpointer)
  finally:
    checkpointer.close()
  if restored is None:
    raise CheckpointError(f"'{workdir}' has no checkpoint yet; let genjax train reach "
                          "train.checkpoint_every steps first")
  step, state, _, _ = restored
  ctx = session.eval_context(state, step)
  ctx.run_fingerprint = fingerprint
  return session, ctx


def _with_sharding(abstract, sharding):
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), abstract)
