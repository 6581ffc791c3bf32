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

`data.resample='latent_knn'` replaces the product of marginal histograms by one joint density,
because a class seen a few times is a small cluster in the joint latent space, not the tail
of any single coordinate (experiments/rare_events measured it: the marginals give such a
class less than its uniform share, the joint density several times more). The estimate:
  1. active dimensions: those whose posterior-mean std over the training set exceeds
     `data.resample_active` times the largest one (the others carry only encoder noise,
     which would otherwise dominate the distances); each is standardised to unit std;
  2. r_k(x): the distance to x's k-th nearest other example (k = `data.resample_k`), so
     the density relative to the median example's is d(x) = (median r_k / r_k(x))^A on A
     active dimensions;
  3. W(x) ∝ 1 / (d(x) + alpha), alpha = `data.resample_alpha` now in units of the median
     density (0: the inverse density; alpha 1 already bounds W by 2x its median), clipped
     to [median / R, median * R] with R = `data.resample_max_ratio`: above so that a few
     isolated codes cannot take all the draws (the effective sample size stays at least
     N / R^2), below so that no example of a dense region is dropped altogether.
k should exceed the size of the groups to be found: a tight cluster of m <= k examples has
its k-th neighbour outside, so it reads as sparse; one of m > k examples reads as dense.

Determinism: the probabilities are a function of the params at the resampling step and are
stored, with their epoch (step // resample_every), in the data-iterator state of every
checkpoint (pipeline.TrainBatches.draw_with); batch j of epoch k comes from a generator
seeded (seed, k, j). A resumed run therefore draws exactly the batches of the
uninterrupted one. Each resampling logs the weights' effective sample size
(sum W)^2 / sum W^2, its share of N, and the max/min weight ratio (split 'resample'; with
'latent_knn' also the number of active dimensions).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import ml_collections
import numpy as np

from genjax import config as gconfig
from genjax.core import devices
from genjax.core import family as contract
from genjax.data.base import Source
from genjax.data.pipeline import TrainBatches
from genjax.errors import ConfigError


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


def active_dims(z_ND: np.ndarray, fraction: float) -> np.ndarray:
  """Boolean [D]: the dimensions whose std over the N codes exceeds `fraction` of the largest."""
  std_D = np.asarray(z_ND, np.float64).std(0)
  return std_D > fraction * std_D.max()


def knn_probabilities(z_ND: np.ndarray, k: int, alpha: float, active: float,
                      max_ratio: float) -> np.ndarray:
  """Sampling probabilities [N] ∝ 1 / (d + alpha), d the joint kNN density over its median.

  Args:
    z_ND: latent codes (posterior means) of the N training examples.
    k: the neighbour whose distance r_k measures the density; 1 <= k < N.
    alpha: smoothing added to the density, in units of the median example's density; >= 0.
    active: a dimension counts when its std exceeds this fraction of the largest std.
    max_ratio: the weights are clipped to [median / max_ratio, median * max_ratio]; >= 1.

  Returns:
    float64 probabilities summing to 1.
  """
  from sklearn.neighbors import NearestNeighbors  # pylint: disable=g-import-not-at-top
  z_ND = np.asarray(z_ND, np.float64)
  keep_D = active_dims(z_ND, active)
  if not keep_D.any():  # every code identical: no density to estimate
    return np.full(len(z_ND), 1.0 / len(z_ND))
  u_NA = z_ND[:, keep_D] / z_ND[:, keep_D].std(0)
  # kneighbors() without a query leaves each example out of its own neighbours.
  r_N = NearestNeighbors(n_neighbors=k).fit(u_NA).kneighbors()[0][:, -1]
  # In log space: d spans many decades in A dimensions. r = 0 (k duplicates) is an infinite
  # density, alpha = 0 a log of -inf; both are exact limits of the formula.
  with np.errstate(divide="ignore"):
    log_d_N = u_NA.shape[1] * (np.log(np.median(r_N)) - np.log(r_N))
    log_w_N = -np.logaddexp(log_d_N, np.log(alpha))
  log_median = np.median(log_w_N)  # w is monotone in r: the median example's weight
  log_w_N = np.clip(log_w_N, log_median - np.log(max_ratio), log_median + np.log(max_ratio))
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
  sharding = devices.batch_sharding(mesh)
  codes = []
  for start in range(0, n, batch_size):
    idx = np.minimum(np.arange(start, start + batch_size), n - 1)
    x = devices.to_global({"x": source.get_batch(idx[lo:lo + local])["x"]}, sharding)["x"]
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
  method: str = "latent_density"  # or 'latent_knn'
  k: int = 5
  active: float = 0.3
  max_ratio: float = 10.0

  def due(self, step: int) -> bool:
    return step > 0 and step % self.every == 0

  def update(self, state: Any, step: int, batches: TrainBatches) -> dict[str, float]:
    """Re-estimates the weights with `state`'s encoder and makes `batches` draw with them."""
    z_ND = encode_all(self.encode, state, self.source, self.batch_size, self.mesh)
    if self.method == "latent_knn":
      probs_N = knn_probabilities(z_ND, self.k, self.alpha, self.active, self.max_ratio)
    else:
      probs_N = latent_probabilities(z_ND, self.bins, self.alpha)
    batches.draw_with(probs_N, step // self.every)
    numbers = weight_stats(probs_N)
    if self.method == "latent_knn":
      numbers["active_dims"] = int(active_dims(z_ND, self.active).sum())
    if self.rare_class >= 0 and hasattr(self.source, "arrays"):
      rare_N = self.source.arrays["label"] == self.rare_class
      numbers["rare_class_mass"] = float(probs_N[rare_N].sum())
      numbers["rare_class_share"] = float(rare_N.mean())
    return numbers


def from_config(config: ml_collections.ConfigDict, family: Any, source: Source,
                mesh: jax.sharding.Mesh) -> Resampler | None:
  """The hook for config.data.resample, or None when it is 'none' (or absent)."""
  method = gconfig.optional(config, "data.resample")
  if method == "none":
    return None
  if not contract.has(family, contract.Encoder):
    raise ConfigError(
        f"data.resample='{method}' needs a model with an encoder, but model.family="
        f"'{config.model.family}' has none; use a vae or autoencoder, or set data.resample='none'")
  k = int(gconfig.optional(config, "data.resample_k"))
  if method == "latent_knn" and k >= len(source):
    raise ConfigError(f"data.resample_k={k} must be below the {len(source)} training examples")
  batch_size = int(config.data.eval_batch_size)
  devices.check_batch_divisible(batch_size, "eval_batch_size")
  return Resampler(every=int(gconfig.optional(config, "data.resample_every")),
                   bins=int(gconfig.optional(config, "data.resample_bins")),
                   alpha=float(gconfig.optional(config, "data.resample_alpha")),
                   batch_size=batch_size, encode=jax.jit(family.encode), source=source,
                   mesh=mesh, rare_class=int(gconfig.optional(config, "data.rare_class")),
                   method=method, k=k,
                   active=float(gconfig.optional(config, "data.resample_active")),
                   max_ratio=float(gconfig.optional(config, "data.resample_max_ratio")))
