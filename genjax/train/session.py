"""Everything a run needs before its first step, shared by `train`, `eval` and `sample`:
the mesh, the data, the family, the derived keys and the abstract (shape-only) state.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from genjax import config as gconfig
from genjax import data as gdata
from genjax import models
from genjax.core import devices
from genjax.data.base import Source
from genjax.errors import CheckpointError, ConfigError
from genjax.models import common
from genjax.evals.context import EvalContext
from genjax.train import parallel
from genjax.train.checkpoint import BestMetric, Checkpointer

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
  init: Callable  # family.init, or with_param_ema's (hparams.ema_decay set, no own EMA), jitted
  train_step: Callable  # likewise family.train_step, jitted (inlined into the multi-step)

  @property
  def replicated(self):
    return devices.replicated(self.mesh)

  def rng(self, stream: int) -> jax.Array:
    return jax.random.fold_in(self.key, stream)

  def for_member(self, config: ml_collections.ConfigDict, workdir: str) -> "Session":
    """This session for another population member: same data, family and shapes, but its
    own config (hparams, seed), run directory, traced hparams and keys."""
    gconfig.validate(config, models.config_rules)
    return dataclasses.replace(
        self, config=config, workdir=workdir,
        hp=devices.replicate(gconfig.hparams_as_arrays(config), self.mesh),
        key=devices.replicate(jax.random.key(config.seed), self.mesh))

  def init_state(self):
    """The family's initial state (see _compiled_init)."""
    return self.init(self.rng(INIT_STREAM), self.train.get_batch(np.arange(1)), self.hp)

  def init_acc(self):
    return jax.jit(init_accumulator, static_argnums=0, out_shardings=self.replicated)(
        self.metric_names)

  @property
  def best(self) -> BestMetric | None:
    """train.keep_best's metric, or None."""
    return BestMetric.from_config(self.config, list(self.config.evals))

  def checkpointer(self) -> Checkpointer:
    return Checkpointer(self.workdir, self.config.train.keep_checkpoints,
                        gconfig.fingerprint(self.config), best=self.best)

  def restore(self, checkpointer: Checkpointer, step: int | None = None):
    """(step, state, acc, data_state) of the newest readable checkpoint (or of `step`), or None."""
    return checkpointer.restore_latest(_with_sharding(self.abstract_state, self.replicated),
                                       _with_sharding(self.abstract_acc, self.replicated), step)

  @property
  def evaluates_ema(self) -> bool:
    """Whether sampling, evaluation and figures use the params' EMA (hparams.ema_decay > 0)."""
    return float(self.config.hparams.get("ema_decay", 0.0)) > 0

  def evaluated(self, state):
    """The state that evaluators and figures see: params replaced by their EMA when on."""
    return state.replace(params=state.ema) if self.evaluates_ema else state

  def eval_context(self, state, step: int) -> EvalContext:
    return EvalContext(config=self.config, family=self.family, state=self.evaluated(state),
                       step=step, hp=self.hp, rng=self.rng(EVAL_STREAM), test=self.test,
                       mesh=self.mesh, workdir=self.workdir, open_run=open_trained,
                       params="ema" if self.evaluates_ema else "raw")


def _compiled_init(init: Callable, mesh) -> Callable:
  """init jitted without XLA's optimisation passes: init runs once, and optimising its
  unrolled threefry draws (one per parameter) took 90 % of a small run's compile time
  (CycleGAN smoke: 20 s -> 2 s). Its numbers are those of the unoptimised program, the same
  on every launch."""
  return jax.jit(init, out_shardings=devices.replicated(mesh),
                 compiler_options={"xla_backend_optimization_level": 0})


def _laid_out(tree, sharding):
  """tree's arrays as abstract values with `sharding`, as the compiled step sees them."""
  return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding), tree)


def open_session(config: ml_collections.ConfigDict, workdir: str) -> Session:
  """Validates config, joins a multi-host job if any, loads the data and builds the family."""
  gconfig.validate(config, models.config_rules)
  parallel.maybe_initialize_distributed()
  mesh = devices.make_mesh()
  devices.check_batch_divisible(config.data.batch_size, "batch_size")
  train = gdata.load(config.data, "train")
  test = gdata.load(config.data, "test")
  if config.data.batch_size > len(train):
    raise ConfigError(f"data.batch_size={config.data.batch_size} is larger than the "
                      f"{len(train)} training examples of '{train.info.name}'; lower "
                      "data.batch_size" + (" or raise data.num_train" if config.data.num_train
                                           else ""))
  family = models.build_family(config, train.info)
  hp = devices.replicate(gconfig.hparams_as_arrays(config), mesh)
  key = devices.replicate(jax.random.key(config.seed), mesh)
  # Each of init and the train step is traced once per run: the shape passes below use the
  # same jit objects (and argument layouts) as the calls that follow, which find the
  # traces cached. init sees one example, as init_state gives it.
  init_key, one_example = jax.random.fold_in(key, INIT_STREAM), train.get_batch(np.arange(1))
  init, train_step = _compiled_init(family.init, mesh), family.train_step
  abstract_state = init.eval_shape(init_key, one_example, hp)
  if "ema_decay" in hp and not abstract_state.ema:  # a family with its own EMA keeps it
    raw_init, train_step = common.with_param_ema(family.init, train_step)
    init = _compiled_init(raw_init, mesh)
    abstract_state = init.eval_shape(init_key, one_example, hp)
  train_step = jax.jit(train_step)  # called inside the compiled multi-step
  example = train.get_batch(np.arange(config.data.batch_size))  # shapes only
  _, metric_shapes = train_step.eval_shape(
      _laid_out(abstract_state, devices.replicated(mesh)),
      _laid_out(example, devices.batch_sharding(mesh, 0)),
      _laid_out(key, devices.replicated(mesh)), _laid_out(hp, devices.replicated(mesh)))
  names = tuple(sorted(metric_shapes))
  return Session(config=config, workdir=workdir, mesh=mesh, train=train, test=test, family=family,
                 hp=hp, key=key, abstract_state=abstract_state,
                 abstract_acc=jax.eval_shape(lambda: init_accumulator(names)), metric_names=names,
                 init=init, train_step=train_step)


# What may change for a use of a trained run: how a diffusion model samples.
_SAMPLING_KEYS = ("model.sampler", "model.sample_steps", "model.eta", "model.ode_rtol",
                  "model.ode_atol", "model.fast_spacing", "model.fast_t_end",
                  "model.fast_lower_order_final")


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


def load_trained(workdir: str, overrides: dict | None = None,
                 step: int | str | None = None) -> tuple[Session, EvalContext]:
  """The session and an evaluation context for a checkpoint of a run directory.

  Args:
    workdir: the run directory.
    overrides: dotted config keys to change for this use only: a diffusion model's
      sampler, step count and eta, or `evals.NAME.OPTION` (an evaluator's protocol
      size). The checkpoint is still matched against the saved config's fingerprint.
    step: the step to load: None or 'latest' for the newest readable checkpoint, 'best'
      for train.keep_best's, or a checkpointed step number.

  Returns:
    (session, context) of the restored state.
  """
  config = gconfig.read_saved(workdir)
  fingerprint = gconfig.fingerprint(config)
  apply_use_overrides(config, overrides or {})
  session = open_session(config, workdir)
  # Read-only: a `train` may be running in this directory; only it moves or deletes steps.
  checkpointer = Checkpointer(workdir, config.train.keep_checkpoints, fingerprint, read_only=True,
                              best=session.best)
  try:
    restored = session.restore(checkpointer, _chosen_step(checkpointer, workdir, step))
  finally:
    checkpointer.close()
  if restored is None and step not in (None, "latest"):
    raise CheckpointError(f"checkpoint step {step} of '{workdir}' is unreadable; pass another "
                          "step, or None for the latest")
  if restored is None:
    raise CheckpointError(f"'{workdir}' has no checkpoint yet; let genjax train reach "
                          "train.checkpoint_every steps first")
  step, state, _, _ = restored
  ctx = session.eval_context(state, step)
  ctx.run_fingerprint = fingerprint
  return session, ctx


def _chosen_step(checkpointer: Checkpointer, workdir: str, step: int | str | None) -> int | None:
  """None/'latest' -> None (the newest readable step); 'best' -> train.keep_best's; a step
  number -> itself, if it was saved."""
  if step in (None, "latest"):
    return None
  if isinstance(step, int) and not isinstance(step, bool):
    if step not in checkpointer.all_steps():
      raise CheckpointError(f"'{workdir}' has no checkpoint of step {step}; it holds steps "
                            f"{checkpointer.all_steps()}: pass one of them, or None for the latest")
    return step
  if step != "best":
    raise ConfigError(f"--step={step!r} is not a step choice; pass --step=best or --step=latest")
  return _best_step(checkpointer, workdir)


def _best_step(checkpointer: Checkpointer, workdir: str) -> int:
  """The best step of train.keep_best, or one line saying why there is none."""
  if checkpointer.best is None:
    raise CheckpointError(f"'{workdir}' was trained without train.keep_best, so it has no best "
                          "step; drop --step=best (the latest step is used)")
  best = checkpointer.best_step()
  if best is None:
    raise CheckpointError(f"'{workdir}' has no best step yet: train.keep_best="
                          f"'{checkpointer.best.key}' is recorded at each evaluation "
                          "(train.eval_every); drop --step=best or train further")
  return best


def best_checkpoint(workdir: str) -> tuple[str, str, int, float]:
  """(train.keep_best, its mode, the best step, its value) of a run directory, from the
  checkpoints' saved metrics alone (no data, no model)."""
  config = gconfig.read_saved(workdir)
  best = BestMetric.from_config(config, list(config.evals))
  checkpointer = Checkpointer(workdir, config.train.keep_checkpoints, gconfig.fingerprint(config),
                              read_only=True, best=best)
  try:
    step = _best_step(checkpointer, workdir)
    return best.key, best.mode, step, checkpointer.best_value(step)
  finally:
    checkpointer.close()


def open_trained(workdir: str) -> EvalContext:
  """The evaluation context of a run directory's latest checkpoint (e.g. a judge's)."""
  return load_trained(workdir)[1]


def _with_sharding(abstract, sharding):
  return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), abstract)
