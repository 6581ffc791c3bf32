"""The probability-flow ODE and fast samplers against closed-form scores (Gaussian, mixture)."""
from __future__ import annotations

import math

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from genjax import config as gconfig
from genjax import data as gdata
from genjax import models
from genjax.data import toy2d
from genjax.errors import ConfigError
from genjax.evals import interpolation, ode_likelihood, outliers
from genjax.evals.context import EvalContext
from genjax.models import diffusion_fast as fast
from genjax.models import diffusion_ode as ode
from genjax.models.diffusion_schedule import Schedule
from genjax.models.diffusion_time import ContinuousVP
from genjax.core import devices
from genjax.core.state import TrainState
from tests.conftest import load

T_MIN = 1e-5
VP = ContinuousVP.from_schedule(Schedule.make("linear", 1000))
# a full-covariance Gaussian and a 4-component isotropic mixture in 2D
MEAN = np.array([0.5, -0.3])
COV = np.array([[0.6, 0.25], [0.25, 0.3]])
MIX_MEANS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
MIX_STD = 0.2


def _alpha_sigma(tau_B):
  s = VP.s_of_tau(tau_B)
  return VP.alpha(s)[:, None], VP.sigma(s)[:, None]


def gaussian_eps(x_BD, tau_B):
  """E[eps | x_s] for data ~ N(MEAN, COV): sigma Sigma_s^-1 (x - alpha m)."""
  a, s = _alpha_sigma(tau_B)
  cov_B22 = a[:, :, None] ** 2 * COV + s[:, :, None] ** 2 * jnp.eye(2)
  return s * jnp.linalg.solve(cov_B22, (x_BD - a * MEAN)[..., None])[..., 0]


def mixture_log_density(x_BD, alpha, sigma):
  """log of the mixture blurred to noise level (alpha, sigma): components
  N(alpha mu_k, (alpha^2 std^2 + sigma^2) I), equal weights."""
  var = alpha**2 * MIX_STD**2 + sigma**2
  sq_BK = jnp.sum((x_BD[:, None] - alpha * MIX_MEANS) ** 2, -1)
  return (jax.nn.logsumexp(-0.5 * sq_BK / var, -1) - math.log(len(MIX_MEANS))
          - jnp.log(2 * math.pi * var))


def mixture_eps(x_BD, tau_B):
  """-sigma grad log p_s(x) for the mixture (the oracle noise prediction)."""
  a, s = _alpha_sigma(tau_B)
  grad = jax.vmap(jax.grad(lambda x, aa, ss: mixture_log_density(x[None], aa, ss)[0]))
  return -s * grad(x_BD, a[:, 0], s[:, 0])


def _ends():
  s_lo, s_hi = VP.s_of_t(T_MIN), VP.s_max
  return ((float(VP.alpha(s_lo)), float(VP.sigma(s_lo))),
          (float(VP.alpha(s_hi)), float(VP.sigma(s_hi))))


def _mixture_points(n, seed=0):
  rng = np.random.default_rng(seed)
  return jnp.asarray(MIX_MEANS[rng.integers(4, size=n)] + MIX_STD * rng.standard_normal((n, 2)),
                     jnp.float32)


def test_continuous_schedule_meets_every_discrete_marginal_and_score_sde_beta():
  schedule = Schedule.make("linear", 1000)
  tau = jnp.arange(1000, dtype=jnp.float32)
  ab = jax.nn.sigmoid(-2.0 * VP.s_of_tau(tau))
  np.testing.assert_allclose(ab, schedule.alpha_bars, rtol=2e-5, atol=1e-6)
  np.testing.assert_allclose(VP.tau_of_s(VP.s_of_tau(tau)), tau, atol=2e-3)
  # beta(t) ~ T beta_i: score_sde's VPSDE(0.1, 20) at both ends (first-order agreement)
  beta = VP.beta_of_t(jnp.array([0.5e-3, 0.5, 1.0]))
  np.testing.assert_allclose(beta, [0.1, 10.05, 20.0], rtol=0.02)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_estimate_is_unbiased_for_the_exact_trace(probe):
  w = jax.random.normal(jax.random.key(0), (5, 5))
  fn = lambda x: jnp.tanh(w @ x + 0.3) * x
  x = jax.random.normal(jax.random.key(1), (5,))
  exact = ode.exact_trace(fn, x)
  probes = ode.draw_probes(jax.random.key(2), (20_000, 5), probe)
  est = jax.vmap(lambda v: ode.hutchinson_trace(fn, x, v)[1])(probes)
  stderr = float(est.std()) / math.sqrt(len(est))
  assert abs(float(est.mean() - exact)) < 4 * stderr


def test_ode_likelihood_of_the_oracle_mixture_is_the_exact_density():
  (a_lo, s_lo), (a_hi, s_hi) = _ends()
  x = _mixture_points(16)
  rtol = atol = 1e-5
  prior = lambda z: mixture_log_density(z[None], a_hi, s_hi)[0]
  out = ode.log_likelihood(VP, mixture_eps, x, jax.random.key(0), t_min=T_MIN, rtol=rtol,
                           atol=atol, divergence="exact", prior_logpdf=prior)
  want = mixture_log_density(x, a_lo, s_lo)
  # each accepted step errs by at most atol + rtol |y| per component; |log p| < 10 here
  # and the prior's gradient is O(1 / var), var >= 0.04 at the data end
  tol = out["steps_B"] * (atol + rtol * 10.0) * (1.0 + 1.0 / MIX_STD**2)
  assert np.all(np.abs(np.asarray(out["log_p_B"] - want)) < np.asarray(tol)), (
      out["log_p_B"] - want, tol)
  # the data density itself: the t_min blur moves it by about D sigma_min^2 / (2 std^2)
  data = mixture_log_density(x, 1.0, 0.0)
  assert float(jnp.max(jnp.abs(out["log_p_B"] - data))) < 2 * s_lo**2 / MIX_STD**2 + 1e-3


def test_hutchinson_likelihood_averages_to_the_exact_density():
  (a_lo, s_lo), (a_hi, s_hi) = _ends()
  x = jnp.repeat(_mixture_points(1, seed=3), 128, 0)  # one point, 128 probes
  prior = lambda z: mixture_log_density(z[None], a_hi, s_hi)[0]
  rtol = atol = 1e-4
  out = ode.log_likelihood(VP, mixture_eps, x, jax.random.key(1), t_min=T_MIN, rtol=rtol,
                           atol=atol, divergence="hutchinson", prior_logpdf=prior)
  est = out["log_p_B"]
  stderr = float(est.std()) / math.sqrt(len(est))
  solver = float(out["steps_B"].max()) * (atol + rtol * 10.0) * (1.0 + 1.0 / MIX_STD**2)
  want = float(mixture_log_density(x[:1], a_lo, s_lo)[0])
  assert stderr > 0  # the probes do vary the estimate
  assert abs(float(est.mean()) - want) < 4 * stderr + solver


def test_decode_inverts_encode_on_the_mixture():
  x = _mixture_points(8, seed=1)
  rtol = atol = 1e-5
  z = ode.encode(VP, mixture_eps, x, T_MIN, rtol, atol)
  back = ode.decode(VP, mixture_eps, z, T_MIN, rtol, atol)
  # encoding spreads the data to unit scale; the round trip's error stays a few hundred
  # local tolerances (the flow's expansion times the steps taken)
  assert float(jnp.max(jnp.abs(back - x))) < 300 * (atol + rtol)
  assert float(jnp.std(z)) > 0.5  # it did move the points to the noise scale


def _exact_map(x_T):
  """The exact probability-flow map of N(MEAN, COV) from the last knot to the data."""
  (_, _), (a_hi, s_hi) = _ends()
  lam, u = np.linalg.eigh(COV)
  gain = u @ np.diag(np.sqrt(lam / (a_hi**2 * lam + s_hi**2))) @ u.T
  return MEAN + (np.asarray(x_T) - a_hi * MEAN) @ gain.T


@pytest.mark.parametrize("sampler", fast.FAST_SAMPLERS)
def test_fast_samplers_converge_to_the_gaussian_as_steps_grow(sampler):
  (_, _), (a_hi, s_hi) = _ends()
  n = 4000
  # the exact marginal at the last knot, so the exact map yields N(MEAN, COV) exactly
  chol = np.linalg.cholesky(a_hi**2 * COV + s_hi**2 * np.eye(2))
  x_T = jnp.asarray(a_hi * MEAN + np.random.default_rng(0).standard_normal((n, 2)) @ chol.T,
                    jnp.float32)
  target = _exact_map(x_T)
  errors = []
  for steps in (20, 40):  # the asymptotic regime: the ratio nears 2^order
    x0 = np.asarray(jax.jit(lambda x, k=steps: fast.sample(sampler, VP, gaussian_eps, x, k))(
        x_T))
    errors.append(float(np.sqrt(np.mean((x0 - target) ** 2))))
  # global error O(h^order): doubling the steps divides it by about 2^order
  order = 1 if sampler == "euler" else 2
  assert errors[0] / errors[1] > 2 ** order * 0.8, errors
  se_mean = np.sqrt(np.diag(COV) / n)
  assert np.all(np.abs(x0.mean(0) - MEAN) < 4 * se_mean + errors[-1])
  se_cov = np.sqrt((np.outer(np.diag(COV), np.diag(COV)) + COV**2) / n)
  assert np.all(np.abs(np.cov(x0.T) - COV) < 4 * se_cov + 2 * errors[-1])


@pytest.mark.parametrize("spacing", fast.SPACINGS)
def test_every_grid_spacing_runs_from_the_last_knot_down_to_its_end(spacing):
  first_knot = np.exp(VP.log_snr_half_T[0])
  grid = fast.sigma_bar_grid(VP, 12, spacing)
  assert grid[0] == pytest.approx(np.exp(VP.s_max)) and grid[-1] == pytest.approx(first_knot)
  assert np.all(np.diff(grid) < 0)
  lower = fast.sigma_bar_grid(VP, 12, spacing, t_end=T_MIN)
  assert lower[-1] == pytest.approx(np.exp(VP.s_of_t(T_MIN)))
  if spacing == "logsnr":  # equal steps in lambda = -log sigma_bar
    np.testing.assert_allclose(np.diff(np.log(grid)), np.diff(np.log(grid))[0], rtol=1e-9)


@pytest.mark.parametrize("spacing", fast.SPACINGS)
def test_dpmpp2m_converges_to_the_gaussian_on_every_spacing(spacing):
  x_T = jnp.asarray(np.random.default_rng(0).standard_normal((2000, 2)), jnp.float32)
  target = _exact_map(x_T)
  errors = [float(np.sqrt(np.mean((np.asarray(jax.jit(
      lambda x, k=steps: fast.sample("dpmpp2m", VP, gaussian_eps, x, k, spacing))(x_T))
      - target) ** 2))) for steps in (20, 40)]
  # second order: at least halving per doubling, whatever the spacing's constant
  assert errors[1] < errors[0] / 2 and errors[1] < 0.05, errors


def test_dpmpp2m_in_first_order_throughout_is_euler():
  """With three levels the last step is the only one after the first, so lower_order_final
  makes every step first order: DPM-Solver++(1) is DDIM's update, euler's, to rounding."""
  x_T = jnp.asarray(np.random.default_rng(0).standard_normal((64, 2)), jnp.float32)
  euler = fast.sample("euler", VP, gaussian_eps, x_T, 3)
  first = fast.sample("dpmpp2m", VP, gaussian_eps, x_T, 3, lower_order_final=True)
  second = fast.sample("dpmpp2m", VP, gaussian_eps, x_T, 3)
  np.testing.assert_allclose(first, euler, rtol=1e-4, atol=1e-5)
  assert float(jnp.max(jnp.abs(second - euler))) > 1e-3  # the switch does change the last step


def test_network_calls_count_heun_double():
  assert fast.network_calls("heun", 10) == 19
  assert fast.network_calls("dpmpp2m", 10) == 10


# --- the family and the evaluator ---------------------------------------------------------

class _RingOracle(nn.Module):
  """The exact eps of the toy2d ring8 mixture at fractional index tau (the net's slot)."""
  vp: ContinuousVP

  def __call__(self, x_BD, t_B, label_B=None):  # t_B: the net's (fractional) index
    del label_B
    means, std = toy2d.mixture("ring8")
    s = self.vp.s_of_tau(t_B.astype(jnp.float32))
    a, sig = self.vp.alpha(s), self.vp.sigma(s)

    def log_p(x, aa, ss):
      var = aa**2 * std**2 + ss**2
      return jax.nn.logsumexp(-0.5 * jnp.sum((x - aa * means) ** 2, -1) / var)

    return -sig[:, None] * jax.vmap(jax.grad(log_p))(x_BD, a, sig)


def _oracle_family(**overrides):
  config = load("diffusion.py:smoke", **overrides)
  source = gdata.load(config.data, "test")
  family = models.build_family(config, source.info)
  family = dataclasses.replace(family, net=_RingOracle(family.vp))
  params = {"net": {}}
  state = TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state={}, ema=params,
                     extra={})
  return config, family, source, state


def test_ode_likelihood_evaluator_reports_the_exact_ring8_density_for_the_oracle(tmp_path):
  config, family, source, state = _oracle_family(model__t_min=1e-6)
  ctx = EvalContext(config=config, family=family, state=state, step=0, hp={},
                    rng=jax.random.key(0), test=source, mesh=devices.make_mesh(),
                    workdir=str(tmp_path))
  cfg = ml_collections.ConfigDict(dict(type="ode_likelihood", num_examples=64))
  out = ode_likelihood.run(ctx, cfg)
  # t_min blurs each mode by sigma_min^2 ~ 1e-7 against std^2 = 1e-4: D / 2 * 1e-3 nats
  assert abs(out["gap_nats"]) < 0.005 + 3 * out["gap_stderr_nats"], out
  assert out["bits_per_dim"] == pytest.approx(out["nll_nats"] / (2 * math.log(2)))


@pytest.mark.parametrize("sampler", ["dpmpp2m"])  # 'ode' is diffusion_ode.decode, tested above
def test_family_samples_the_ring_with_ode_samplers(sampler):
  config, family, _, state = _oracle_family(model__sampler=sampler, model__sample_steps=20,
                                            model__t_min=1e-6, model__ode_rtol=1e-4,
                                            model__ode_atol=1e-5)
  x = np.asarray(jax.jit(family.sample, static_argnums=(2,))(state, jax.random.key(0), 32, {}))
  means, std = toy2d.mixture("ring8")
  dist = np.min(np.linalg.norm(x[:, None] - means, axis=-1), 1)
  assert np.mean(dist < 3 * std) > 0.9


def test_continuous_time_training_step_runs_and_bad_ode_settings_are_refused():
  config = load("diffusion.py:smoke", model__time="continuous", model__variance="posterior")
  source = gdata.load(config.data, "test")
  family = models.build_family(config, source.info)
  batch = source.get_batch(np.arange(config.data.batch_size))
  hp = gconfig.hparams_as_arrays(config)
  state = family.init(jax.random.key(0), batch, hp)
  _, metrics = jax.jit(family.train_step)(state, batch, jax.random.key(1), hp)
  assert np.isfinite(float(metrics["loss"]))
  for override, message in (({"model__time": "later"}, "model.time"),
                            ({"model__time": "continuous"}, "variance"),
                            ({"model__t_min": 0.5}, "t_min"),
                            ({"model__sampler": "dpm"}, "sampler"),
                            ({"model__fast_spacing": "cosine"}, "fast_spacing"),
                            ({"model__fast_t_end": 0.5}, "fast_t_end")):
    with pytest.raises(ConfigError, match=message):
      models.build_family(load("diffusion.py:smoke", **override), source.info)


def _oracle_context(tmp_path, **overrides):
  config, family, source, state = _oracle_family(model__t_min=1e-6, **overrides)
  return EvalContext(config=config, family=family, state=state, step=0, hp={},
                     rng=jax.random.key(0), test=source, mesh=devices.make_mesh(),
                     workdir=str(tmp_path))


def test_ode_interpolation_joins_encoded_points_through_the_data(tmp_path):
  ctx = _oracle_context(tmp_path)
  out = interpolation.run(ctx, ml_collections.ConfigDict(dict(num_pairs=3, num_steps=6)))
  assert out["spherical"]
  # the ends are decode(encode(x)): the round trip of the tolerances (see the test above)
  assert out["endpoint_mse_per_dim"] < (300 * 2e-5) ** 2
  frames = np.load(ctx.path("evals", "interpolation.npz"))["frames"].reshape(-1, 2)
  means, std = toy2d.mixture("ring8")
  dist = np.min(np.linalg.norm(frames[:, None] - means, axis=-1), 1)
  # the path's codes keep norms between the ends' (typical) norms, so (but for the rare code
  # on a basin's edge) each decodes into a mode: 3 std holds 98.9 % of a 2D Gaussian's mass
  assert np.mean(dist < 3 * std) >= 0.75, dist


def test_polar_interpolation_keeps_norms_between_the_ends():
  z0, z1 = np.array([-0.38, 0.34]), np.array([0.93, -0.89])  # nearly opposite, unequal norms
  path = interpolation.polar_interpolation(z0, z1, 7)
  np.testing.assert_allclose(path[[0, -1]], np.stack([z0, z1]), rtol=1e-6)
  norms = np.linalg.norm(path, axis=-1)
  np.testing.assert_allclose(norms, np.linspace(norms[0], norms[-1], 7), rtol=1e-5)
  assert np.linalg.norm(interpolation.slerp(z0, z1, 7), axis=-1).max() > 5 * norms.max()


def test_ode_outlier_score_separates_noise_from_the_ring(tmp_path):
  ctx = _oracle_context(tmp_path)
  out = outliers.run(ctx, ml_collections.ConfigDict(dict(score="ode", num_examples=64)))
  # uniform noise over the ring's box lies almost all outside the modes' 3-std discs (their
  # 8 discs cover under 1 % of the box), where the exact density is ~ 0
  assert out["auroc"] > 0.95, out
  with pytest.raises(ConfigError, match="score='exact'"):
    outliers.run(ctx, ml_collections.ConfigDict(dict(score="exact")))
