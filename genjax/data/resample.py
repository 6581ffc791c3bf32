"""Debiasing by the learned latent density: training examples rare in latent space drawn more often.

Amini, Soleimany, Schwarting, Bhatia and Rus (2019), "Uncovering and mitigating algorithmic
bias through learned latent structure" (AAAI/ACM AIES; the DB-VAE, Algorithm 1). With
`data.resample='latent_density'`, every `data.resample_every` steps the encoder's posterior
means z(x) of the whole training set are binned per latent dimension i into
`data.resample_bins` bins spanning that dimension's range; with Q_i the histogram density
(np.histogram's density=True, as the authors' code) and alpha = `data.resample_alpha`,

    W(x)  ∝  prod_i 1 / (Q_i(z_i(x)) + alpha),

and every following batch is drawn with replacement with probabilities W / sum W (computed
in log space: the product of D small densities underflows). alpha -> infinity gives uniform
sampling; alpha -> 0 the inverse of the factorised latent density. The first re-estimate
is at step `resample_every` (an untrained encoder's density says nothing); one due at the
last step is made too, so that a run extended later matches an uninterrupted one.

Determinism: the probabilities are a function of the params at the resampling step and are
stored, with their epoch (step // resample_every), in the data-iterator state of every
checkpoint (pipeline.TrainBatches.draw_with); batch j of epoch k comes from a generator
seeded (seed, k, j). A resumed run therefore draws exactly the batches of the
uninterrupted one. Each resampling logs the weights' effective sample size
(sum W)^2 / sum W^2, its share of N, and the max/min weight ratio (split 'resample').
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import ml_collections
import numpy as np

from genjax import config as gconfig
from genjax.data.base import Source
from genjax.data.pipeline import TrainBatches
from genjax.errors import ConfigError
from genjax.train import parallel


def latent_probabilities(z_ND: np.ndarray, bins: int, alpha: float) -> np.ndarray:
  """Sampling probabilities [N] ∝ prod_d 1 / (Q_d(z_nd) + alpha), Q_d dimension d's histogram.

  Args:
    z_ND: latent codes (posterior means) of the N training examples.
    bins: histogram bins per dimension, spanning that dimension's range.
    alpha: smoothing added to each density; >= 0 (an example's own bin is never empty).

  Returns:
    float64 probabilities summing to 1.
  """
  z_ND = np.asarray(z_ND, np.float64)
  log_w_N = np.zeros(len(z_ND))
  for z_N in z_ND.T:
    density_K, edges = np.histogram(z_N, bins=bins, density=True)
    bin_N = np.clip(np.searchsorted(edges, z_N, side="right") - 1, 0, bins - 1)
    log_w_N -= np.log(density_K[bin_N] + alpha)
  w_N = np.exp(log_w_N - log_w_N.max())
  return w_N / w_N.sum()


def weight_stats(probs_N: np.ndarray) -> dict[str, float]:
  """The effective sample size of the weights (and its share of N), and max/min weight."""
  ess = 1.0 / float(np.sum(probs_N ** 2))
  return {"ess": ess, "ess_fraction": ess / len(probs_N),
          "max_min_ratio": float(probs_N.max() / probs_N.min())}


def encode_all(encode: Callable, state: Any, source: Source, batch_size: int,
               mesh: jax.sharding.Mesh) -> np.ndarray:
  """encode(state, x) of every example of `source`, in order, as float64 [N, D] on every host.

  Global batches of `batch_size` laid out on the mesh (the last one padded with the last
  example), each host feeding its contiguous slice, as the training pipeline does.
  """
  n, procs = len(source), jax.process_count()
  local = batch_size // procs
  lo = jax.process_index() * local
  sharding = parallel.batch_sharding(mesh)
  codes = []
  for start in range(0, n, batch_size):
    idx = np.minimum(np.arange(start, start + batch_size), n - 1)
    x = parallel.to_global({"x": source.get_batch(idx[lo:lo + local])["x"]}, sharding)["x"]
    z = encode(state, x)
    if procs > 1:
      from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
      z = multihost_utils.process_allgather(z, tiled=True)
    codes.append(np.asarray(z, np.float64))
  return np.concatenate(codes)[:n]


@dataclasses.dataclass
class Resampler:
  """The runner's hook: `due(step)`, then `update(state, step, batches)` -> metrics."""
  every: int
  bins: int
  alpha: float
  batch_size: int
  encode: Callable
  source: Source
  mesh: jax.sharding.Mesh
  rare_class: int = -1

  def due(self, step: int) -> bool:
    return step > 0 and step % self.every == 0

  def update(self, state: Any, step: int, batches: TrainBatches) -> dict[str, float]:
    """Re-estimates the weights with `state`'s encoder and makes `batches` draw with them."""
    z_ND = encode_all(self.encode, state, self.source, self.batch_size, self.mesh)
    probs_N = latent_probabilities(z_ND, self.bins, self.alpha)
    batches.draw_with(probs_N, step // self.every)
    numbers = weight_stats(probs_N)
    if self.rare_class >= 0 and hasattr(self.source, "arrays"):
      rare_N = self.source.arrays["label"] == self.rare_class
      numbers["rare_class_mass"] = float(probs_N[rare_N].sum())
      numbers["rare_class_share"] = float(rare_N.mean())
    return numbers


def from_config(config: ml_collections.ConfigDict, family: Any, source: Source,
                mesh: jax.sharding.Mesh) -> Resampler | None:
  """The hook for config.data.resample, or None when it is 'none' (or absent)."""
  if gconfig.optional(config, "data.resample") == "none":
    return None
  if not hasattr(family, "encode"):
    raise ConfigError(
        f"data.resample='latent_density' needs a model with an encoder, but model.family="
        f"'{config.model.family}' has none; use a vae or autoencoder, or set data.resample='none'")
  batch_size = int(config.data.eval_batch_size)
  parallel.check_batch_divisible(batch_size, "eval_batch_size")
  return Resampler(every=int(gconfig.optional(config, "data.resample_every")),
                   bins=int(gconfig.optional(config, "data.resample_bins")),
                   alpha=float(gconfig.optional(config, "data.resample_alpha")),
                   batch_size=batch_size, encode=jax.jit(family.encode), source=source,
                   mesh=mesh, rare_class=int(gconfig.optional(config, "data.rare_class")))
