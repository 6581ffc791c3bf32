"""The VAE family: its KL, its loss, beta's effect, vectorised betas, encoder-free sampling."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import config as gconfig
from genjax import data as gdata
from genjax import models
from genjax.models import vae
from tests.conftest import load


def test_gaussian_kl_matches_monte_carlo_estimate():
  key_m, key_v, key_z = jax.random.split(jax.random.key(0), 3)
  mean = jax.random.normal(key_m, (3, 4))
  logvar = jax.random.normal(key_v, (3, 4)) * 0.5
  z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(key_z, (200_000, 3, 4))
  log_q = -0.5 * ((z - mean) ** 2 / jnp.exp(logvar) + logvar + jnp.log(2 * jnp.pi))
  log_p = -0.5 * (z**2 + jnp.log(2 * jnp.pi))
  mc = (log_q - log_p).mean(0)
  np.testing.assert_allclose(vae.gaussian_kl(mean, logvar), mc, atol=0.02)


def test_gaussian_kl_is_zero_only_at_the_prior():
  assert float(vae.gaussian_kl(jnp.zeros(3), jnp.zeros(3)).sum()) == 0.0
  assert float(vae.gaussian_kl(jnp.ones(3), jnp.zeros(3)).sum()) == pytest.approx(1.5)


def _family_and_batch(spec="vae.py:digits", **overrides):
  config = load(spec, **overrides)
  source = gdata.load(config.data, "train")
  family = models.build_family(config, source.info)
  batch = source.get_batch(np.arange(config.data.batch_size))
  return config, family, batch


def test_beta_trades_kl_against_reconstruction():
  """A larger beta buys a smaller KL with a worse reconstruction (Higgins et al. 2017)."""
  config, family, batch = _family_and_batch()
  step = jax.jit(family.train_step)
  source = gdata.load(config.data, "train")
  results = {}
  for beta in (0.25, 8.0):
    hp = {"beta": jnp.float32(beta)}
    state = family.init(jax.random.key(0), batch, hp)
    for i in range(300):
      idx = np.arange(i * 64, (i + 1) * 64) % len(source)
      state, metrics = step(state, source.get_batch(idx), jax.random.key(1), hp)
    results[beta] = jax.device_get(metrics)
  assert results[8.0]["kl"] < 0.5 * results[0.25]["kl"]
  assert results[8.0]["rec"] > results[0.25]["rec"]


def test_vmapped_beta_sweep_compiles_once():
  """A beta grid trains as one program; a new grid of betas reuses it (hp are traced)."""
  config, family, batch = _family_and_batch()
  members = 3
  init = jax.vmap(family.init, in_axes=(0, None, None))
  states = init(jax.random.split(jax.random.key(0), members), batch, {"beta": jnp.float32(1)})
  sweep = jax.jit(jax.vmap(family.train_step, in_axes=(0, None, None, 0)))
  for betas in ([1.0, 2.0, 4.0], [0.5, 8.0, 16.0]):
    hp = {"beta": jnp.asarray(betas, jnp.float32)}
    new_states, metrics = sweep(states, batch, jax.random.key(1), hp)
  assert sweep._cache_size() == 1  # pylint: disable=protected-access
  assert metrics["loss"].shape == (members,)
  # Each member's step equals the unvectorised step with its own beta.
  solo = jax.jit(family.train_step)(
      jax.tree.map(lambda a: a[2], states), batch, jax.random.key(1), {"beta": jnp.float32(16.0)})
  np.testing.assert_allclose(metrics["loss"][2], solo[1]["loss"], rtol=1e-5)


def test_sample_never_calls_the_encoder():
  config, family, batch = _family_and_batch("vae.py:smoke")
  hp = gconfig.hparams_as_arrays(config)
  state = family.init(jax.random.key(0), batch, hp)
  poisoned = state.replace(params={"decoder": state.params["decoder"],
                                   "encoder": jax.tree.map(lambda p: p * jnp.nan,
                                                           state.params["encoder"])})
  x = jax.jit(family.sample, static_argnums=2)(poisoned, jax.random.key(1), 8, hp)
  assert x.shape == (8,) + family_shape(batch)
  assert bool(jnp.all(jnp.isfinite(x))) and float(x.min()) >= 0 and float(x.max()) <= 1
  without_encoder = state.replace(params={"decoder": state.params["decoder"]})
  y = family.sample(without_encoder, jax.random.key(1), 8, hp)
  np.testing.assert_allclose(x, y, rtol=1e-6)


def family_shape(batch):
  return batch["x"].shape[1:]


def test_elbo_parts_add_up_and_bound_matches_eval_step():
  config, family, batch = _family_and_batch("vae.py:smoke")
  hp = gconfig.hparams_as_arrays(config)
  state = family.init(jax.random.key(0), batch, hp)
  terms = family.eval_step(state, batch, jax.random.key(3), hp)
  np.testing.assert_allclose(terms["nelbo"], terms["rec"] + terms["kl"], rtol=1e-6)
  bound = family.log_prob_bound(state, batch, jax.random.key(3))
  np.testing.assert_allclose(bound, terms["nelbo"], rtol=1e-6)
  # An untrained Bernoulli decoder puts p ~ 0.5 on every pixel: rec ~ D log 2.
  d = np.prod(batch["x"].shape[1:])
  assert float(terms["rec"].mean()) == pytest.approx(d * np.log(2), rel=0.1)
