"""The Python API: train a config, load a run directory, and use its model on numpy arrays.

  run = genjax.train("configs/vae.py:smoke", "runs/x", {"train.num_steps": 40})
  run = genjax.load("runs/x")           # the latest checkpoint; step=N for another
  run.sample(16, seed=0); run.encode(x); run.decode(z); run.reconstruct(x)
  run.log_prob(x); run.translate(x, direction="AtoB"); run.evaluate(["elbo"])

Arrays in and out are numpy, in the dataset's own convention: images float32 in [0, 1]
(uint8 images in [0, 255] are accepted and divided by 255), vectors (toy2d) float32 as the
dataset holds them. A method the family cannot serve (`encode` on a GAN) raises one
CapabilityError line naming the missing `core.family` protocol. Randomness comes from a
`seed` argument only, so every call is deterministic.

This module sits in the train layer, not above it, because `genjax.train` is this package
(made callable in `train/__init__.py`), and a package may not import what sits above it.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

import jax
import ml_collections
import numpy as np

from genjax import config as gconfig
from genjax import evals as gevals
from genjax import models
from genjax.core import family as contract
from genjax.errors import GenjaxError
from genjax.train import judge, runner, session


def train(config: ml_collections.ConfigDict | str, workdir: str,
          overrides: dict[str, Any] | None = None) -> "Run":
  """Trains a config into `workdir` (resuming a run already there) and loads the result.

  Args:
    config: a ConfigDict (e.g. from a config file's `get_config`), or a config spec as
      `genjax train --config` takes it, e.g. 'configs/vae.py:smoke'.
    workdir: the run directory.
    overrides: dotted keys (without 'config.') -> values, e.g. {'hparams.beta': 4.0};
      values may be Python values or strings as typed on the command line.

  Returns:
    The trained run at its final checkpoint.
  """
  if isinstance(config, str):
    config = gconfig.load_config(config, overrides, models.config_rules)
  else:
    config = copy.deepcopy(config)  # the caller's config stays as it was
    gconfig.apply_overrides(config, overrides or {})
    gconfig.validate(config, models.config_rules)
  runner.train_and_evaluate(config, workdir)
  return load(workdir)


def load(workdir: str, step: int | None = None) -> "Run":
  """Opens a run directory's checkpoint for use from Python.

  Args:
    workdir: a directory `genjax train` (or `genjax.train`) wrote.
    step: the checkpointed step to load; None loads the latest.

  Returns:
    The run.
  """
  sess, ctx = session.load_trained(workdir, step=step)
  return Run(sess, ctx)


class Run:
  """A trained model with its config and data description; see the module docstring.

  Attributes:
    workdir: the run directory.
    step: the loaded checkpoint's step.
    config: the run's config.
    family: config.model.family.
    info: the dataset's DatasetInfo (x_shape, kind, num_classes, ...).
  """

  def __init__(self, sess: session.Session, ctx):
    self._session, self._ctx = sess, ctx
    self.workdir, self.step, self.config = sess.workdir, ctx.step, sess.config
    self.family, self.info = sess.config.model.family, ctx.info

  def __repr__(self) -> str:
    return f"Run(workdir={self.workdir!r}, family={self.family!r}, step={self.step})"

  # --- drawing ------------------------------------------------------------------------

  def sample(self, num: int, label: int | None = None, seed: int = 0) -> np.ndarray:
    """`num` draws from the model, [num, *x_shape] float32.

    Args:
      num: how many.
      label: a class to draw (label-conditional models only); None = the model's default.
      seed: the draws' seed.
    """
    self._require("sample", contract.Sampler)
    if num <= 0:
      raise GenjaxError(f"run.sample(num={num}): num must be a positive number of samples")
    cond = None if label is None else np.full((num,), self._check_label(label), np.int32)
    fn = self._ctx.jit("sample", static_argnums=(2,))
    return _host(fn(self._ctx.state, jax.random.key(seed), num, self._ctx.hp, cond))

  def _check_label(self, label: int) -> int:
    classes = contract.num_classes(self._ctx.family)
    if not classes:
      raise GenjaxError(f"run.sample(label={label}) needs a label-conditional model; this "
                        f"'{self.family}' run has no classes: drop label")
    if not 0 <= label < classes:
      raise GenjaxError(f"run.sample(label={label}) is out of range: this model has {classes} "
                        f"classes, 0 to {classes - 1}")
    return label

  # --- codes --------------------------------------------------------------------------

  def encode(self, x: np.ndarray) -> np.ndarray:
    """Codes of inputs x [N, *x_shape]: [N, D] float32 (a VAE's posterior mean)."""
    self._require("encode", contract.Encoder)
    return self._batched(self._ctx.jit("encode"), self._inputs(x, "x"))

  def decode(self, z: np.ndarray) -> np.ndarray:
    """Inputs for codes z [N, latent_dim]: [N, *x_shape] float32 (the decoder's mean)."""
    self._require("decode", contract.Decoder)
    width = self._ctx.family.latent_dim
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[1] != width:
      raise GenjaxError(f"run.decode(z): z has shape {z.shape}; this model's codes are "
                        f"[N, {width}]")
    return self._batched(self._ctx.jit("decode"), z)

  def reconstruct(self, x: np.ndarray) -> np.ndarray:
    """decode(encode(x)): [N, *x_shape] float32."""
    self._require("reconstruct", contract.Encoder, contract.Decoder)
    return self.decode(self.encode(x))

  # --- density ------------------------------------------------------------------------

  @property
  def log_prob_is_exact(self) -> bool:
    """True when `log_prob` is log p(x) itself; False when it is a lower bound."""
    return contract.has(self._ctx.family, contract.ExactLogProb)

  def log_prob(self, x: np.ndarray, label: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """log p(x) per example in nats, [N] float32: exact where the family has it (see
    `log_prob_is_exact`), else the lower bound it has (a VAE's ELBO from one posterior
    draw, diffusion's variational bound).

    Args:
      x: inputs [N, *x_shape].
      label: their classes [N] (a label-conditional model's log p(x | label)).
      seed: the seed of the bound's draws.
    """
    if self.log_prob_is_exact:
      fn = self._ctx.jit("log_prob")
    else:
      self._require("log_prob", contract.LogProbBound)
      bound = self._ctx.jit("log_prob_bound")
      fn = lambda state, batch, rng: -bound(state, batch, rng)  # noqa: E731
    batch = {"x": self._inputs(x, "x")}
    if label is not None:
      batch["label"] = np.asarray(label, np.int32)
    rng = jax.random.key(seed)
    return self._batched(lambda state, b, i: fn(state, b, jax.random.fold_in(rng, i)), batch,
                         with_index=True)

  # --- translation and evaluation -----------------------------------------------------

  def translate(self, x: np.ndarray, direction: str = "AtoB") -> np.ndarray:
    """The other domain's image of each input, [N, H, W, C] float32.

    Args:
      x: images of the source domain (domain A for 'AtoB', B for 'BtoA').
      direction: 'AtoB' or 'BtoA' (CycleGAN; pix2pix translates AtoB).
    """
    self._require("translate", contract.Translator)
    if direction not in ("AtoB", "BtoA"):
      raise GenjaxError(f"run.translate(direction={direction!r}) is unknown; use 'AtoB' or 'BtoA'")
    shape = self.info.x_shape if direction == "AtoB" else self.info.y_shape
    fn = self._ctx.jit("translate", static_argnums=(2,))
    return self._batched(lambda state, b: fn(state, b, direction),
                         self._inputs(x, "x", tuple(shape)))

  def evaluate(self, names: Iterable[str], options: dict[str, Any] | None = None
               ) -> dict[str, dict[str, float]]:
    """Runs evaluators on this checkpoint, as `genjax eval --evals=...` does (each also
    writes evals/NAME.json and its figures into the run directory).

    Args:
      names: evaluator names, from config.evals or bare types, e.g. ['elbo', 'recon'].
      options: 'NAME.OPTION' -> value for this evaluation only, e.g.
        {'likelihood.num_samples': 100}.

    Returns:
      NAME -> its numbers.
    """
    config = copy.deepcopy(self.config)
    for key, value in (options or {}).items():
      gconfig.set_eval_option(config, f"evals.{key}", value)
    evals = gevals.resolve(list(names), config.evals)
    evals = judge.supply(evals, config.data.name, int(self.info.x_shape[0]),
                         runner.train_and_evaluate)
    return gevals.run_evals(self._ctx, evals)

  # --- helpers ------------------------------------------------------------------------

  def _require(self, method: str, *capabilities: type) -> None:
    contract.require(self._ctx.family, *capabilities, family_name=self.family,
                     use=f"run.{method}()")

  def _inputs(self, x: np.ndarray, name: str, shape: tuple | None = None) -> np.ndarray:
    """x as float32 in the dataset's convention (uint8 images / 255), shape-checked."""
    x = np.asarray(x)
    shape = shape or tuple(self.info.x_shape)
    if x.shape[1:] != shape:
      raise GenjaxError(f"{name} has shape {x.shape}; this model takes [N, "
                        f"{', '.join(map(str, shape))}]")
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)

  def _batched(self, fn: Callable, inputs: Any, with_index: bool = False) -> np.ndarray:
    """fn(state, chunk[, i]) over chunks of data.eval_batch_size rows (the last padded, so
    one compiled shape serves every call), concatenated and trimmed to the input's rows."""
    size = int(self.config.data.eval_batch_size)
    num = len(jax.tree.leaves(inputs)[0])
    outputs = []
    for i, start in enumerate(range(0, num, size)):
      chunk = jax.tree.map(lambda a, s=start: _pad(a[s:s + size], size), inputs)
      args = (self._ctx.state, chunk) + ((i,) if with_index else ())
      outputs.append(_host(fn(*args))[:min(size, num - start)])
    return np.concatenate(outputs) if outputs else np.zeros((0,), np.float32)


def _pad(a: np.ndarray, size: int) -> np.ndarray:
  """Rows of `a` followed by copies of its first row up to `size` rows."""
  return a if len(a) == size else np.concatenate([a, np.repeat(a[:1], size - len(a), 0)])


def _host(x: jax.Array) -> np.ndarray:
  out = np.asarray(x)
  return out.astype(np.float32) if np.issubdtype(out.dtype, np.floating) else out
