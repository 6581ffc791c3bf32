"""Decoder likelihoods: the binomial against scipy, its ties to the Bernoulli, a binomial VAE."""
from __future__ import annotations

import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from genjax import data as gdata
from genjax import models
from genjax.core.dataset import DatasetInfo
from genjax.errors import ConfigError
from genjax.models import likelihoods
from genjax.train import runner
from tests.conftest import load

_DIGITS = DatasetInfo(name="digits", x_shape=(8, 8, 1), kind="image", levels=16)
_SPRITES = DatasetInfo(name="sprites", x_shape=(16, 16, 1), kind="image", binary=True)
_RING8 = DatasetInfo(name="toy2d", x_shape=(2,), kind="vector")


def test_binomial_nll_is_the_binomial_pmf_summed_over_pixels():
  logits_BX = jnp.array([[-2.0, 0.0, 1.5], [3.0, -0.5, 0.2]])
  counts_BX = np.array([[0, 7, 16], [16, 3, 9]])
  got = likelihoods.binomial_nll(logits_BX, jnp.asarray(counts_BX / 16.0, jnp.float32), 16)
  p = 1.0 / (1.0 + np.exp(-np.asarray(logits_BX, np.float64)))
  want = -stats.binom.logpmf(counts_BX, 16, p).sum(-1)
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_binomial_with_one_level_is_the_bernoulli_on_binary_data():
  k_l, k_x = jax.random.split(jax.random.key(0))
  logits = 3.0 * jax.random.normal(k_l, (4, 5, 5, 1))
  x = jax.random.bernoulli(k_x, 0.4, (4, 5, 5, 1)).astype(jnp.float32)
  np.testing.assert_allclose(likelihoods.binomial_nll(logits, x, 1),
                             likelihoods.bernoulli_nll(logits, x), rtol=1e-6)


@pytest.mark.parametrize("logit", [-4.0, 0.3, 2.5])
def test_binomial_probabilities_of_the_17_counts_sum_to_one(logit):
  x_K1 = jnp.arange(17, dtype=jnp.float32)[:, None] / 16.0
  nll_K = likelihoods.binomial_nll(jnp.full_like(x_K1, logit), x_K1, 16)
  assert float(jnp.exp(-nll_K).sum()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("likelihood,levels,info,proper", [
    ("bernoulli", 255, _SPRITES, True),
    ("bernoulli", 255, _DIGITS, False),  # a cross-entropy of grey levels
    ("binomial", 16, _DIGITS, True),
    ("binomial", 32, _DIGITS, True),  # a finer grid holds every count
    ("binomial", 255, _DIGITS, False),
    ("binomial", 7, _SPRITES, True),
    ("gaussian", 255, _DIGITS, False),  # a density of discrete values
    ("gaussian", 255, _RING8, True),
])
def test_proper_likelihood_is_one_rule_for_every_evaluator(likelihood, levels, info, proper):
  assert likelihoods.is_proper(likelihood, levels, info) is proper


def test_binomial_off_the_data_grid_is_refused_in_one_line():
  with pytest.raises(ConfigError, match=r"model.levels=255 .*k / 16; set model.levels=16"):
    _family(model__likelihood="binomial")  # model.levels absent: 255 (8-bit)
  with pytest.raises(ConfigError, match="model.levels"):
    _family(model__likelihood="binomial", model__levels=0)
  with pytest.raises(ConfigError, match="continuous"):
    likelihoods.decoder_levels(load("vae.py:toy2d", model__likelihood="binomial",
                                    model__levels=16), _RING8)


def _family(**overrides):
  config = load("vae.py:digits", **overrides)
  source = gdata.load(config.data, "train")
  return models.build_family(config, source.info), source.get_batch(np.arange(64))


def test_binomial_vae_rec_is_16_cross_entropies_minus_the_log_binomial_coefficients():
  binomial, batch = _family(model__likelihood="binomial", model__levels=16)
  bernoulli, _ = _family()
  hp = {"beta": jnp.float32(1.0)}
  state = binomial.init(jax.random.key(0), batch, hp)  # the same nets: shared parameters
  rec_bin = jax.jit(binomial.eval_step)(state, batch, jax.random.key(1), hp)["rec"]
  rec_ce = jax.jit(bernoulli.eval_step)(state, batch, jax.random.key(1), hp)["rec"]
  c = np.rint(batch["x"].reshape(64, -1) * 16).astype(np.float64)
  log_choose = np.sum([math.lgamma(17) - math.lgamma(k + 1) - math.lgamma(17 - k)
                       for k in c.ravel()]) / 64
  np.testing.assert_allclose(np.mean(rec_bin), 16 * np.mean(rec_ce) - log_choose, rtol=1e-5)


def test_binomial_vae_on_digits_trains_through_the_runner_to_a_proper_bound(tmp_path):
  config = load("vae.py:digits", model__likelihood="binomial", model__levels=16,
                train__num_steps=40, train__log_every=20, train__checkpoint_every=40,
                train__eval_every=40, train__figure_every=0, data__eval_batch_size=99,
                data__num_eval=99)
  config.evals = dict(elbo=dict(type="elbo"),
                      likelihood=dict(type="likelihood", k=8, num_examples=99))
  state = runner.train_and_evaluate(config, str(tmp_path))
  read = lambda name: json.load(open(os.path.join(tmp_path, "evals", f"{name}.json")))["metrics"]
  elbo, lik = read("elbo"), read("likelihood")
  assert elbo["proper_likelihood"] and lik["proper_likelihood"]
  assert np.isfinite(elbo["nelbo_nats"]) and np.isfinite(lik["nelbo_stderr_nats"])
  # a bound on the counts' -log P: below uniform over 17 levels (64 ln 17 = 181.3 nats) only
  # once trained; here it is positive and IWAE_8 tightens the ELBO
  assert 0 < lik["iwae_nats"] <= lik["nelbo_nats"] + 1e-3
  # the trained decoder's distribution of one pixel over its 17 counts sums to one
  family, _ = _family(model__likelihood="binomial", model__levels=16)
  logits = family.decoder.apply({"params": state.params["decoder"]}, jnp.zeros((1, 8)))
  x_K1 = jnp.arange(17, dtype=jnp.float32)[:, None] / 16.0
  nll_K = likelihoods.decoder_nll(jnp.full_like(x_K1, logits.reshape(-1)[27]), x_K1,
                                  "binomial", family.levels)
  assert float(jnp.exp(-nll_K).sum()) == pytest.approx(1.0, abs=1e-5)


def test_the_autoencoder_takes_a_binomial_decoder_on_digits():
  """The autoencoder's reconstruction NLL is the binomial's too (model.levels = 16)."""
  from genjax.models import autoencoder  # pylint: disable=g-import-not-at-top
  config = load("autoencoder.py:digits", model__likelihood="binomial", model__levels=16)
  family = autoencoder.Autoencoder.from_config(config, gdata.load(config.data, "train").info)
  assert family.levels == 16
  with pytest.raises(ConfigError, match="model.levels=255 needs x on the grid k / 255"):
    autoencoder.Autoencoder.from_config(load("autoencoder.py:digits", model__likelihood="binomial"),
                                        gdata.load(config.data, "train").info)
