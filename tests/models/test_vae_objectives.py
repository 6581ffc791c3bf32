"""The disentangling VAE objectives: their estimators against hand-derived values, their
training, traced weights, the unchanged default, and the config errors."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from scipy import stats

from genjax import config as gconfig
from genjax import data as gdata
from genjax import models
from genjax.errors import ConfigError
from genjax.models import common, likelihoods
from genjax.models import vae_objectives as vo
from genjax.models.vae import LatentDiscriminator
from genjax.train import runner
from tests.conftest import load, read_metrics

# --- beta-TCVAE ---------------------------------------------------------------------------


def _posterior_batch(b=8, d=3, seed=0):
  k_m, k_v, k_e = jax.random.split(jax.random.key(seed), 3)
  mean = jax.random.normal(k_m, (b, d))
  logvar = 0.5 * jax.random.normal(k_v, (b, d))
  z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(k_e, (b, d))
  return z, mean, logvar


def test_tcvae_terms_sum_to_the_sampled_kl():
  """mi + tc + dwkl telescopes to log q(z_i|x_i) - log p(z_i), whatever N (derived in the
  docstring of tcvae_decomposition); the right side is computed here with scipy."""
  z, mean, logvar = _posterior_batch()
  sd = np.exp(0.5 * np.asarray(logvar, np.float64))
  log_q = stats.norm.logpdf(np.asarray(z, np.float64), np.asarray(mean, np.float64), sd).sum(-1)
  log_p = stats.norm.logpdf(np.asarray(z, np.float64)).sum(-1)
  for n in (8, 1000, 737_280):
    parts = vo.tcvae_decomposition(z, mean, logvar, n)
    np.testing.assert_allclose(parts["mi"] + parts["tc"] + parts["dwkl"], log_q - log_p,
                               rtol=1e-5, atol=1e-4)


def test_tcvae_mws_terms_for_identical_posteriors_are_the_log_n_offsets():
  """If q(z|x_j) is the same for all j, MWS gives log q(z) = log q(z|x) - log N, hence
  mi = log N, tc = (D - 1) log N and dwkl = log q(z|x) - log p(z) - D log N exactly."""
  b, d, n = 6, 4, 5000
  z, mean, logvar = _posterior_batch(b, d, seed=1)
  mean = jnp.broadcast_to(mean[:1], (b, d))
  logvar = jnp.broadcast_to(logvar[:1], (b, d))
  parts = vo.tcvae_decomposition(z, mean, logvar, n)
  kl_sample = (vo.gaussian_log_density(z, mean, logvar) - vo.gaussian_log_density(z, 0., 0.)).sum(-1)
  np.testing.assert_allclose(parts["mi"], np.full(b, math.log(n)), rtol=1e-5)
  np.testing.assert_allclose(parts["tc"], np.full(b, (d - 1) * math.log(n)), rtol=1e-5)
  np.testing.assert_allclose(parts["dwkl"], kl_sample - d * math.log(n), rtol=1e-5, atol=1e-4)


def test_tcvae_regulariser_weights_only_the_tc_term():
  z, mean, logvar = _posterior_batch()
  kl = vo.gaussian_kl(mean, logvar).sum(-1)
  kw = dict(kl_B=kl, z_BD=z, mean_BD=mean, logvar_BD=logvar, step=0, dataset_size=100)
  tc = vo.tcvae_decomposition(z, mean, logvar, 100)["tc"]
  for w in (1.0, 6.0):
    penalty, metrics = vo.regulariser("tcvae", {"tc_weight": jnp.float32(w)}, **kw)
    np.testing.assert_allclose(penalty, kl + (w - 1) * tc, rtol=1e-6)
  assert set(metrics) == {"mi", "tc", "dwkl"}


# --- DIP-VAE -----------------------------------------------------------------------------


def _means_with_covariance(scale2, d=3):
  """2D codes +-a e_k: zero mean and covariance exactly (a^2 / D) I = scale2 * I."""
  a = math.sqrt(scale2 * d)
  eye = np.eye(d, dtype=np.float32)
  return jnp.asarray(np.concatenate([a * eye, -a * eye]))


def test_dip_penalty_is_zero_exactly_when_the_covariance_is_the_identity():
  d = 3
  mu_i = _means_with_covariance(1.0, d)  # Cov(mu) = I
  logvar = jnp.zeros_like(mu_i)
  np.testing.assert_allclose(vo.dip_covariance(mu_i, logvar, "i"), np.eye(d), atol=1e-6)
  assert max(map(float, vo.dip_penalty_parts(vo.dip_covariance(mu_i, logvar, "i")))) < 1e-10
  # DIP-II: Cov(mu) = 0.36 I plus E[Sigma] = 0.64 I is the identity; DIP-I of it is not.
  mu_ii = _means_with_covariance(0.36, d)
  logvar_ii = jnp.full_like(mu_ii, math.log(0.64))
  off, diag = vo.dip_penalty_parts(vo.dip_covariance(mu_ii, logvar_ii, "ii"))
  assert float(off) < 1e-10 and float(diag) < 1e-10
  off, diag = vo.dip_penalty_parts(vo.dip_covariance(mu_ii, logvar_ii, "i"))
  assert float(off) < 1e-10 and float(diag) == pytest.approx(d * 0.64**2, rel=1e-5)


def test_dip_penalty_counts_each_off_diagonal_entry_and_each_diagonal_error():
  """Codes (1, 1), (-1, -1): Cov = [[1, 1], [1, 1]], so sum offdiag^2 = 2 and diag error 0;
  doubled codes: Cov = 4 [[1, 1], [1, 1]]: offdiag 2 * 16, diag 2 * 3^2."""
  mu = jnp.asarray([[1.0, 1.0], [-1.0, -1.0]])
  logvar = jnp.full_like(mu, -30.0)  # Sigma ~ 0: DIP-II equals DIP-I
  hp = {"lambda_od": jnp.float32(3.0), "lambda_d": jnp.float32(5.0)}
  kl = jnp.zeros(2)
  for scale, off, diag in ((1.0, 2.0, 0.0), (2.0, 32.0, 18.0)):
    for objective in ("dip_i", "dip_ii"):
      penalty, metrics = vo.regulariser(objective, hp, kl_B=kl, z_BD=mu * scale,
                                        mean_BD=mu * scale, logvar_BD=logvar, step=0,
                                        dataset_size=1)
      assert float(metrics["dip_off_diag"]) == pytest.approx(off, rel=1e-5)
      assert float(metrics["dip_diag"]) == pytest.approx(diag, rel=1e-5, abs=1e-5)
      np.testing.assert_allclose(penalty, 3.0 * off + 5.0 * diag, rtol=1e-5)


# --- FactorVAE ---------------------------------------------------------------------------


def test_permute_dims_shuffles_each_dim_independently():
  z = jnp.arange(64 * 3, dtype=jnp.float32).reshape(64, 3)
  perm = vo.permute_dims(jax.random.key(0), z)
  for d in range(3):  # every column keeps its values (the marginals) ...
    np.testing.assert_array_equal(np.sort(perm[:, d]), z[:, d])
  rows = (np.asarray(perm) - np.arange(3)) // 3  # ... each under its own permutation
  assert not np.array_equal(rows[:, 0], rows[:, 1]) and not np.array_equal(rows[:, 1], rows[:, 2])
  assert not np.array_equal(rows[:, 0], np.arange(64))


def _trained_tc_estimate(cov_DD, steps=400, batch=256):
  """Trains a small FactorVAE discriminator on z ~ N(0, cov) vs its permutation; returns
  the density-ratio TC estimate on fresh samples."""
  disc = LatentDiscriminator((64, 64))
  chol = jnp.linalg.cholesky(jnp.asarray(cov_DD, jnp.float32))
  d = chol.shape[0]
  opt = optax.adam(1e-3, b1=0.5, b2=0.9)

  def draw(key):
    return jax.random.normal(key, (batch, d)) @ chol.T

  def loss(params, key):
    k_z, k_perm = jax.random.split(key)
    z = draw(k_z)
    return vo.discriminator_loss(disc.apply({"params": params}, z),
                                 disc.apply({"params": params}, vo.permute_dims(k_perm, z)))

  def step(carry, key):
    params, opt_state = carry
    grads = jax.grad(loss)(params, key)
    updates, opt_state = opt.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), opt_state), None

  params = disc.init(jax.random.key(0), jnp.zeros((1, d)))["params"]
  keys = jax.random.split(jax.random.key(1), steps)
  (params, _), _ = jax.jit(lambda c, k: jax.lax.scan(step, c, k))((params, opt.init(params)), keys)
  z = jax.random.normal(jax.random.key(2), (8192, d)) @ chol.T
  return float(vo.density_ratio_tc(disc.apply({"params": params}, z)))


def test_factorvae_discriminator_estimates_total_correlation():
  """For z ~ N(0, [[1, r], [r, 1]]), TC = -log(1 - r^2) / 2: 0 at r = 0, 0.83 nats at r = 0.9."""
  assert abs(_trained_tc_estimate(np.eye(2))) < 0.1
  true_tc = -0.5 * math.log(1 - 0.9**2)
  estimate = _trained_tc_estimate(np.array([[1.0, 0.9], [0.9, 1.0]]))
  assert 0.5 * true_tc < estimate < 1.5 * true_tc


# --- AnnealedVAE -------------------------------------------------------------------------


def test_capacity_rises_linearly_then_holds():
  c_max, steps = jnp.float32(25.0), jnp.float32(1000.0)
  capacity = jax.jit(vo.capacity)
  for step, want in ((0, 0.0), (500, 12.5), (1000, 25.0), (1001, 25.0), (10**6, 25.0)):
    assert float(capacity(jnp.int32(step), c_max, steps)) == want
  assert float(capacity(jnp.int32(1), c_max, steps)) == pytest.approx(0.025, rel=1e-6)
  assert capacity._cache_size() == 1  # pylint: disable=protected-access


def test_annealed_penalty_pulls_the_batch_kl_towards_the_capacity():
  kl = jnp.asarray([4.0, 8.0])  # batch mean 6
  hp = {"gamma": jnp.float32(1000.0), "capacity_max": jnp.float32(20.0),
        "capacity_steps": jnp.float32(100.0)}
  kw = dict(kl_B=kl, z_BD=None, mean_BD=None, logvar_BD=None, dataset_size=1)
  for step, c in ((0, 0.0), (25, 5.0), (50, 10.0), (400, 20.0)):
    penalty, metrics = vo.regulariser("annealed", hp, step=jnp.int32(step), **kw)
    assert float(metrics["capacity"]) == pytest.approx(c)
    assert float(penalty) == pytest.approx(1000.0 * abs(6.0 - c), rel=1e-6)


# --- the family ----------------------------------------------------------------------------


def _family(objective="beta", spec="vae.py:digits", **overrides):
  config = load(spec, model__objective=objective, model__disc_widths="(64, 64)", **overrides)
  source = gdata.load(config.data, "train")
  family = models.build_family(config, source.info)
  batch = source.get_batch(np.arange(config.data.batch_size))
  return config, family, batch


def test_default_objective_is_the_beta_vae_loss_bit_for_bit():
  """The pre-objectives train step, written out here, and today's default agree exactly."""
  config, family, batch = _family()
  assert all(load(f"vae.py:{v}").model.objective == "beta" for v in ("sprites", "digits", "smoke"))
  hp = gconfig.hparams_as_arrays(config)

  def old_loss(params, batch, rng, hp):
    out = family.encoder.apply({"params": params["encoder"]}, batch["x"])
    mean, logvar = jnp.split(out, 2, axis=-1)
    z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(rng, mean.shape)
    rec = likelihoods.decoder_nll(family.decoder.apply({"params": params["decoder"]}, z),
                                  batch["x"], family.likelihood)
    kl = (0.5 * (mean**2 + jnp.exp(logvar) - 1.0 - logvar)).sum(-1)
    loss = jnp.mean(rec + hp["beta"] * kl)
    return loss, {"loss": loss, "rec": rec.mean(), "kl": kl.mean(), "nelbo": (rec + kl).mean()}

  old_step = jax.jit(lambda s, b, r, h: common.gradient_step(old_loss, family.optimizer, s, b, r, h))
  new_step = jax.jit(family.train_step)
  old = new = family.init(jax.random.key(0), batch, hp)
  for _ in range(3):
    old, old_metrics = old_step(old, batch, jax.random.key(1), hp)
    new, new_metrics = new_step(new, batch, jax.random.key(1), hp)
  assert set(new_metrics) == set(old_metrics) == {"loss", "rec", "kl", "nelbo", "lr"}
  for key in old_metrics:
    np.testing.assert_array_equal(new_metrics[key], old_metrics[key])
  jax.tree.map(np.testing.assert_array_equal, new.params, old.params)
  assert set(new.opt_state) == {"main"}


_WEIGHTS = {"beta": ("beta",), "annealed": ("gamma", "capacity_max"), "tcvae": ("tc_weight",),
            "factorvae": ("factor_gamma",), "dip_i": ("lambda_od", "lambda_d"),
            "dip_ii": ("lambda_od", "lambda_d")}
_LOGGED = {"beta": set(), "annealed": {"capacity"}, "tcvae": {"mi", "tc", "dwkl"},
           "factorvae": {"tc", "d_loss"}, "dip_i": {"dip_off_diag", "dip_diag"},
           "dip_ii": {"dip_off_diag", "dip_diag"}}


@pytest.mark.parametrize("objective", vo.OBJECTIVES)
def test_every_objective_trains_and_its_weights_are_traced(objective):
  config, family, batch = _family(objective)
  hp = gconfig.hparams_as_arrays(config)
  state = family.init(jax.random.key(0), batch, hp)
  step = jax.jit(family.train_step)
  losses = []
  for _ in range(30):
    state, metrics = step(state, batch, jax.random.key(1), hp)
    losses.append(float(metrics["loss"]))
  assert set(metrics) == {"loss", "rec", "kl", "nelbo", "lr"} | _LOGGED[objective]
  assert all(np.isfinite(float(v)) for v in metrics.values())
  assert np.mean(losses[-5:]) < np.mean(losses[:5])
  # Other weights: a different loss from the same program.
  other = dict(hp, **{k: hp[k] * 2 + 1 for k in _WEIGHTS[objective]})
  _, changed = step(state, batch, jax.random.key(1), other)
  assert float(changed["loss"]) != float(step(state, batch, jax.random.key(1), hp)[1]["loss"])
  assert step._cache_size() == 1  # pylint: disable=protected-access


def test_factorvae_keeps_its_discriminator_apart_and_a_population_compiles_once():
  config, family, batch = _family("factorvae")
  hp = gconfig.hparams_as_arrays(config)
  state = family.init(jax.random.key(0), batch, hp)
  assert set(state.params) == {"encoder", "decoder", "disc"}
  assert set(state.opt_state) == {"main", "disc"}
  new, _ = jax.jit(family.train_step)(state, batch, jax.random.key(1), hp)
  for name in ("encoder", "decoder", "disc"):  # each group moved, by its own optimiser
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), new.params[name], state.params[name])
    assert all(jax.tree.leaves(moved))
  assert float(new.opt_state["disc"].hyperparams["learning_rate"]) == pytest.approx(1e-4)
  np.testing.assert_allclose(new.opt_state["disc"].hyperparams["b1"], 0.5)
  members = 2
  states = jax.vmap(family.init, in_axes=(0, None, None))(
      jax.random.split(jax.random.key(0), members), batch, hp)
  sweep = jax.jit(jax.vmap(family.train_step, in_axes=(0, None, None, 0)))
  for gammas in ([10.0, 40.0], [20.0, 100.0]):
    grid = dict({k: jnp.full((members,), v) for k, v in hp.items()},
                factor_gamma=jnp.asarray(gammas, jnp.float32))
    _, metrics = sweep(states, batch, jax.random.key(1), grid)
  assert sweep._cache_size() == 1  # pylint: disable=protected-access
  assert metrics["tc"].shape == (members,) and bool(jnp.all(jnp.isfinite(metrics["d_loss"])))


def test_tcvae_takes_n_from_the_training_split():
  _, family, _ = _family("tcvae", data__num_train=500)
  assert family.dataset_size == 500
  _, family, _ = _family("tcvae")
  assert family.dataset_size == len(gdata.load(load("vae.py:digits").data, "train"))


def test_factorvae_smoke_run_logs_its_terms_and_evaluates_the_plain_elbo(tmp_path):
  config = load("vae.py:smoke", model__objective="factorvae", train__num_steps=10,
                train__log_every=5, train__checkpoint_every=10, train__eval_every=10,
                train__figure_every=0)
  runner.train_and_evaluate(config, str(tmp_path))
  logged = read_metrics(str(tmp_path))
  assert [r["step"] for r in logged] == [5, 10]
  assert all(np.isfinite(r[k]) for r in logged for k in ("tc", "d_loss", "loss"))
  (elbo,) = read_metrics(str(tmp_path), "eval/elbo")
  assert np.isfinite(elbo["nelbo_nats"]) and "tc" not in elbo


# --- config errors -----------------------------------------------------------------------


@pytest.mark.parametrize("overrides,message", [
    ({"model__objective": "tc_vae"}, "config.model.objective='tc_vae' is out of range"),
    ({"hparams__factor_gamma": -1.0}, "config.hparams.factor_gamma=-1.0 is out of range"),
    ({"hparams__lambda_od": -0.5}, "config.hparams.lambda_od=-0.5 is out of range"),
    ({"hparams__capacity_steps": 0.0}, "config.hparams.capacity_steps=0.0 is out of range"),
    ({"optim__disc_b2": 1.0}, "config.optim.disc_b2=1.0 is out of range"),
])
def test_bad_objective_settings_raise_config_error(overrides, message):
  with pytest.raises(ConfigError, match=message):
    load("vae.py:smoke", **overrides)


def test_rules_know_exactly_the_objectives():
  check, _ = models.config_rules("vae")["model.objective"]
  assert all(check(name) for name in vo.OBJECTIVES) and not check("betatc")


def test_missing_objective_hparams_raise_one_config_error_line():
  config = load("vae.py:digits", model__objective="tcvae")
  info = gdata.load(config.data, "train").info
  del config.hparams["tc_weight"]
  with pytest.raises(ConfigError) as err:
    models.build_family(config, info)
  assert "\n" not in str(err.value) and "needs config.hparams.tc_weight" in str(err.value)
  config = load("vae.py:digits", model__objective="factorvae")
  del config.optim["disc_b1"]
  with pytest.raises(ConfigError, match="needs config.optim.disc_b1"):
    models.build_family(config, info)
  config.model.objective = "nope"  # a config built without validation
  with pytest.raises(ConfigError, match="objective='nope' is unknown"):
    models.build_family(config, info)
  with pytest.raises(ConfigError, match="needs config.hparams.lambda_od"):
    vo.regulariser("dip_i", {"beta": 1.0}, kl_B=None, z_BD=None, mean_BD=None,
                   logvar_BD=None, step=0, dataset_size=1)
