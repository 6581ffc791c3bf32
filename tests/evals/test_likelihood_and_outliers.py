"""Importance-weighted bounds against a closed-form likelihood; outlier separation scores."""
from __future__ import annotations

import dataclasses
import types

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from scipy import stats

from genjax.core.state import TrainState
from genjax.errors import CapabilityError
from genjax.evals import likelihood, outliers
from genjax.evals.context import EvalContext
from genjax.models import likelihoods

X_DIM, Z_DIM, NOISE_STD = 4, 2, 0.5


class _LinearGaussianDecoder(nn.Module):
  """p(x | z) = N(z W + b, s^2 I), output as (mean, log-scale) stacked last, as genjax's."""

  @nn.compact
  def __call__(self, z_BD):
    w = self.param("w", nn.initializers.zeros, (Z_DIM, X_DIM))
    b = self.param("b", nn.initializers.zeros, (X_DIM,))
    log_s = self.param("log_s", nn.initializers.zeros, ())
    mean = z_BD @ w + b
    return jnp.concatenate([mean, jnp.broadcast_to(log_s, mean.shape)], -1)


@dataclasses.dataclass(frozen=True)
class _LinearGaussianVAE:
  """p(z) = N(0, I), p(x | z) linear-Gaussian, so p(x) = N(b, W^T W + s^2 I) exactly.

  The posterior is the exact one's diagonal, with its mean scaled by `mean_scale` and its
  variances by `var_scale`: exact when W's rows are orthogonal and both scales are 1.
  """
  mean_scale: float = 1.0
  var_scale: float = 1.0
  decoder: nn.Module = _LinearGaussianDecoder()
  likelihood: str = "gaussian"

  def posterior(self, state, x_BX):
    p = state.params["decoder"]
    s2 = jnp.exp(2 * p["log_s"])
    cov_DD = jnp.linalg.inv(jnp.eye(Z_DIM) + p["w"] @ p["w"].T / s2)
    mean_BD = (x_BX - p["b"]) @ p["w"].T @ cov_DD / s2
    logvar_BD = jnp.broadcast_to(jnp.log(self.var_scale * jnp.diag(cov_DD)), mean_BD.shape)
    return self.mean_scale * mean_BD, logvar_BD

  def log_joint(self, state, x_BX, z_SBD):
    out = self.decoder.apply({"params": state.params["decoder"]}, z_SBD.reshape(-1, Z_DIM))
    return likelihoods.log_joint(out, x_BX, z_SBD, self.likelihood)


def _model(w: np.ndarray, seed: int = 0, num: int = 64):
  b = np.random.default_rng(seed).normal(size=X_DIM)
  params = {"decoder": {"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32),
                        "log_s": jnp.asarray(np.log(NOISE_STD), jnp.float32)}}
  state = TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state={}, ema={}, extra={})
  cov = w.T @ w + NOISE_STD**2 * np.eye(X_DIM)
  x = np.random.default_rng(seed + 1).multivariate_normal(b, cov, size=num).astype(np.float32)
  return state, jnp.asarray(x), stats.multivariate_normal(b, cov).logpdf(x)


def _bounds(family, state, x, k, chunk):
  fn = jax.jit(lambda st, xx, r: likelihood.importance_bounds(family, st, xx, r, k, chunk))
  elbo, iwae = fn(state, x, jax.random.key(1))
  return float(elbo.mean()), float(iwae.mean())


def test_iwae_bound_rises_with_k_towards_the_exact_log_likelihood():
  w = np.random.default_rng(3).normal(size=(Z_DIM, X_DIM))
  state, x, log_px = _model(w)
  truth = float(log_px.mean())
  loose = _LinearGaussianVAE(mean_scale=0.7, var_scale=1.6)
  iwae = {k: _bounds(loose, state, x, k, chunk)[1] for k, chunk in
          ((1, 1), (10, 10), (1000, 64))}  # 1000 = 15 chunks of 64 and 40 of a 16th
  assert truth - iwae[1] > 0.5  # an inexact posterior: the k = 1 bound (the ELBO) is loose
  assert iwae[1] < iwae[10] < iwae[1000] < truth + 0.01
  assert truth - iwae[1000] < 0.05 * (truth - iwae[1])


def test_bounds_equal_the_log_likelihood_for_the_exact_posterior_whatever_the_chunks():
  w = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, -1.0]])  # orthogonal rows
  state, x, log_px = _model(w, num=8)
  for k, chunk in ((1, 1), (7, 3)):  # 7 samples as chunks of 3, 3 and 1 (2 masked out)
    elbo, iwae = _bounds(_LinearGaussianVAE(), state, x, k, chunk)
    assert elbo == pytest.approx(float(log_px.mean()), abs=1e-4)
    assert iwae == pytest.approx(float(log_px.mean()), abs=1e-4)


def test_default_chunk_bounds_decoder_outputs():
  assert likelihood.default_chunk(5000, 256, 4096, 1 << 23) == 8
  assert likelihood.default_chunk(5, 2, 2, 1 << 23) == 5
  assert likelihood.default_chunk(1000, 1024, 1 << 14, 1 << 23) == 1


def test_auroc_is_one_when_separated_and_one_half_when_identical():
  rng = np.random.default_rng(0)
  separated = outliers.separation(rng.uniform(0, 1, 300), rng.uniform(2, 3, 100))
  assert separated["auroc"] == 1.0 and separated["auprc"] == 1.0
  assert separated["auprc_chance"] == 0.25
  same = outliers.separation(rng.normal(size=4000), rng.normal(size=4000))
  assert same["auroc"] == pytest.approx(0.5, abs=0.02)
  assert outliers.separation(np.ones(50), np.ones(50))["auroc"] == 0.5


def test_resize_images_repeats_up_and_averages_down():
  x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
  up = outliers.resize_images(x, (8, 8, 3))
  assert up.shape == (1, 8, 8, 3) and up[0, 1, 1, 2] == x[0, 0, 0, 0] and up[0, 7, 7, 0] == 15
  down = outliers.resize_images(x, (2, 2, 1))
  np.testing.assert_allclose(down[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])


def test_a_family_without_bound_or_posterior_is_refused_in_one_line():
  config = ml_collections.ConfigDict({"model": {"family": "gan"}})
  ctx = EvalContext(config=config, family=types.SimpleNamespace(), state=None, step=0, hp={},
                    rng=None, test=None, mesh=None, workdir="")
  with pytest.raises(CapabilityError, match="log_prob_bound"):
    likelihood.run(ctx, ml_collections.ConfigDict())
