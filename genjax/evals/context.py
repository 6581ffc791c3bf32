"""EvalContext: what an evaluator gets: the family, a trained state and the held-out data.

It compiles each family method once (`ctx.jit('eval_step')`) and feeds the held-out split
in fixed, ordered batches laid out on the mesh, so evaluation is deterministic and runs
the same on one device or many.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import jax
import ml_collections
import numpy as np

from genjax.core import devices
from genjax.core import family as contract
from genjax.data import pipeline
from genjax.data.base import Source
from genjax.errors import ConfigError
from genjax.evals.progress import progress


@dataclasses.dataclass
class EvalContext:
  """A trained model and its data, for evaluators and figures.

  Attributes:
    config: the run's config.
    family: the model family.
    state: the train state being evaluated (updated by the runner between evaluations).
    step: the state's step.
    hp: traced hyperparameters.
    rng: base key for evaluation randomness.
    test: the held-out source.
    mesh: the device mesh.
    workdir: the run directory (figures and evals are written under it).
    run_fingerprint: the fingerprint of the config the run was trained with, when `config`
      carries options set for this evaluation only (`--config.evals.X.Y`); evals/NAME.json
      records it, so the report still knows the numbers as this run's.
    open_run: opens another trained run directory (a judge) as its EvalContext; given by
      the train layer, whose job reading checkpoints is (None where nothing may be opened).
    params: which parameters `state.params` holds: 'raw' (the optimiser's) or 'ema' (their
      moving average, hparams.ema_decay > 0); evals/NAME.json records it.
  """
  config: ml_collections.ConfigDict
  family: Any
  state: Any
  step: int
  hp: dict
  rng: jax.Array
  test: Source
  mesh: jax.sharding.Mesh
  workdir: str
  run_fingerprint: str = ""
  open_run: Callable[[str], "EvalContext"] | None = None
  params: str = "raw"
  _compiled: dict = dataclasses.field(default_factory=dict)

  @property
  def info(self):
    return self.test.info

  def require(self, *capabilities: type, evaluator: str) -> None:
    """One-line refusal when the family lacks a capability (a `core.family` protocol)."""
    contract.require(self.family, *capabilities, evaluator=evaluator,
                     family_name=self.config.model.family)

  def jit(self, name: str, **jit_kwargs) -> Callable:
    """The family's method `name`, jitted once per context."""
    key = (name, tuple(sorted(jit_kwargs.items())))
    if key not in self._compiled:
      self._compiled[key] = jax.jit(getattr(self.family, name), **jit_kwargs)
    return self._compiled[key]

  def batches(self, num: int | None = None):
    """Ordered global batches of the held-out split (data.num_eval examples by default)."""
    d = self.config.data
    devices.check_batch_divisible(d.eval_batch_size, "eval_batch_size")
    check_eval_size(d.eval_batch_size, num or d.num_eval, len(self.test), self.info.name,
                    "data.num_eval" if num is None else "the evaluator's num_examples")
    sharding = devices.batch_sharding(self.mesh)
    for local in pipeline.eval_batches(self.test, d.eval_batch_size, num or d.num_eval,
                                       jax.process_index(), jax.process_count()):
      yield devices.to_global(local, sharding)

  def per_example(self, fn: Callable, num: int | None = None,
                  label: str = "held-out set") -> dict[str, np.ndarray]:
    """Applies fn(state, batch, rng) -> dict of [B] arrays over the eval set, concatenated.

    A loop longer than a few seconds prints progress lines (`evals.progress`) named `label`.
    """
    size = self.config.data.eval_batch_size
    total = min(num or self.config.data.num_eval, len(self.test)) // size * size
    outputs = []
    for i, batch in enumerate(progress(self.batches(num), total, label, size)):
      out = fn(self.state, batch, jax.random.fold_in(self.rng, i))
      outputs.append(jax.tree.map(_fetch, out))
    return {k: np.concatenate([o[k] for o in outputs]) for k in outputs[0]}

  def first_examples(self, num: int) -> dict[str, np.ndarray]:
    """The first `num` held-out records as host numpy arrays (for figures)."""
    return self.test.get_batch(np.arange(min(num, len(self.test))))

  def path(self, *parts: str) -> str:
    return os.path.join(self.workdir, *parts)


def check_eval_size(batch_size: int, num: int, held_out: int, dataset: str, num_key: str) -> None:
  """Refuses an evaluation that would read no whole batch, naming the number at fault:
  `num` examples asked for (`num_key`), or the `held_out` examples the dataset has."""
  if num < batch_size and num <= held_out:
    raise ConfigError(f"{num_key}={num} is below one data.eval_batch_size={batch_size}: "
                      f"nothing would be evaluated; raise {num_key} to at least {batch_size} "
                      "or lower data.eval_batch_size")
  if held_out < batch_size:
    raise ConfigError(f"data.eval_batch_size={batch_size} exceeds the {held_out} held-out "
                      f"examples of '{dataset}'; lower data.eval_batch_size")


def _fetch(x: jax.Array) -> np.ndarray:
  """A global array -> numpy on every host (replicated first if it is sharded)."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    return np.asarray(multihost_utils.process_allgather(x, tiled=True))
  return np.asarray(x)
