"""The diffusion family: closed forms, samplers and bound under perfect predictors, EMA, resume."""
from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import config as gconfig
from genjax import data as gdata
from genjax import models
from genjax.errors import ConfigError
from genjax.models import diffusion
from genjax.models import diffusion_samplers as samplers
from genjax.models.diffusion_schedule import Schedule
from genjax.train import runner
from tests.conftest import load, read_metrics

# Its module fixtures train runs: pytest-xdist keeps the module on one worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_diffusion")


def _family(spec="diffusion.py:smoke", **kw):
  config = load(spec, **kw)
  source = gdata.load(config.data, "train")
  family = models.build_family(config, source.info)
  return config, family, source.get_batch(np.arange(config.data.batch_size))


@pytest.fixture(scope="module")
def conditional_smoke():
  """(config, family, batch, state) of the smoke config made label-conditional, built once."""
  config, family, batch = _family(model__conditional=True, model__label_dropout=0.2)
  state = jax.jit(family.init)(jax.random.key(0), batch, gconfig.hparams_as_arrays(config))
  return config, family, batch, state


def _point_oracle(schedule, x0_D):
  """The exact noise predictor for a dataset holding the single point x0."""
  def eps_fn(x, t_B):
    ab = jnp.asarray(schedule.alpha_bars, jnp.float32)[t_B][:, None]
    return (x - jnp.sqrt(ab) * x0_D) / jnp.sqrt(1.0 - ab)
  return eps_fn


def _gaussian_oracle(schedule, mean, std):
  """E[eps | x_t] for data ~ N(mean, std^2 I): x_t ~ N(sqrt(ab) mean, ab std^2 + 1 - ab)."""
  def eps_fn(x, t_B):
    ab = jnp.asarray(schedule.alpha_bars, jnp.float32)[t_B][:, None]
    return jnp.sqrt(1.0 - ab) * (x - jnp.sqrt(ab) * mean) / (ab * std**2 + 1.0 - ab)
  return eps_fn


# --- the schedule -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_closed_form_marginal_matches_iterated_single_steps(kind):
  schedule = Schedule.make(kind, 100)
  x0 = jnp.full((20_000, 1), 1.5)
  t_stop = 60

  def step(x, t):
    noise = jax.random.normal(jax.random.fold_in(jax.random.key(0), t), x.shape)
    return schedule.q_step(x, jnp.full((x.shape[0],), t), noise), None

  x_t, _ = jax.jit(lambda x: jax.lax.scan(step, x, jnp.arange(t_stop + 1)))(x0)
  ab = schedule.alpha_bars[t_stop]
  mean, var = math.sqrt(ab) * 1.5, 1.0 - ab
  assert float(x_t.mean()) == pytest.approx(mean, abs=4 * math.sqrt(var / 20_000))
  assert float(x_t.var()) == pytest.approx(var, rel=4 * math.sqrt(2 / 20_000))
  # and the closed form's own draw has exactly these moments given its noise
  noise = jax.random.normal(jax.random.key(1), x0.shape)
  direct = schedule.q_sample(x0, jnp.full((20_000,), t_stop), noise)
  np.testing.assert_allclose(direct, mean + math.sqrt(var) * noise, rtol=1e-5, atol=1e-6)


def test_schedules_match_their_papers_and_respacing_keeps_marginals():
  linear = Schedule.make("linear", 1000)
  assert linear.betas[0] == pytest.approx(1e-4) and linear.betas[-1] == pytest.approx(0.02)
  cosine = Schedule.make("cosine", 1000)
  s = 0.008  # alpha_bar_t = f(t) / f(0), f(t) = cos^2(((t/T + s) / (1 + s)) pi / 2)
  f = lambda t: math.cos((t / 1000 + s) / (1 + s) * math.pi / 2) ** 2
  assert cosine.alpha_bars[499] == pytest.approx(f(500) / f(0), rel=1e-9)
  steps = samplers.timesteps(1000, 7)
  assert steps[0] == 0 and steps[-1] == 999 and list(samplers.timesteps(1000, 1)) == [999]
  np.testing.assert_allclose(linear.respace(steps).alpha_bars, linear.alpha_bars[steps], rtol=1e-12)


def test_eps_x0_and_v_conversions_round_trip():
  schedule = Schedule.make("cosine", 50)
  k0, k1 = jax.random.split(jax.random.key(0))
  x0, eps = jax.random.normal(k0, (6, 3)), jax.random.normal(k1, (6, 3))
  t = jnp.array([0, 5, 10, 20, 40, 49])
  xt = schedule.q_sample(x0, t, eps)
  v = schedule.v_from_eps(x0, t, eps)
  np.testing.assert_allclose(schedule.x0_from_eps(xt, t, eps), x0, atol=2e-4)
  np.testing.assert_allclose(schedule.eps_from_x0(xt, t, x0), eps, atol=2e-4)
  np.testing.assert_allclose(schedule.eps_from_v(xt, t, v), eps, atol=2e-4)
  np.testing.assert_allclose(schedule.x0_from_v(xt, t, v), x0, atol=2e-4)


def test_analytic_variance_is_beta_for_standard_normal_data():
  """x_0 ~ N(0, I): E||E[eps | x_t]||^2 / d = 1 - alpha_bar_t and Var(x_{t-1} | x_t) = beta_t."""
  schedule = Schedule.make("linear", 200)
  gamma = jnp.asarray(1.0 - schedule.alpha_bars, jnp.float32)
  var = schedule.reverse_variances("analytic", gamma, jnp.ones(200, bool))
  # rtol 1e-3: gamma is capped at 1 - 1e-3, which the last steps (alpha_bar < 1e-3) touch
  np.testing.assert_allclose(var, schedule.betas, rtol=1e-3)


@pytest.mark.parametrize("mean,var", [(0.3, 0.05), (-0.97, 1e-4), (1.0, 4.0)])
def test_discretized_decoder_is_a_distribution_over_the_256_levels(mean, var):
  x = jnp.linspace(-1.0, 1.0, 256)[:, None]
  nll = diffusion.discretized_decoder_nll(x, jnp.full_like(x, mean), jnp.full_like(x, var))
  assert float(jnp.exp(-nll).sum()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("mean,var", [(0.3, 0.05), (-0.9, 1e-4), (1.0, 4.0)])
def test_discretized_decoder_on_16_levels_is_a_distribution_over_17_bins(mean, var):
  x = jnp.linspace(-1.0, 1.0, 17)[:, None]  # digits' counts 0..16, bins of width 2/16
  nll = diffusion.discretized_decoder_nll(x, jnp.full_like(x, mean), jnp.full_like(x, var), 16)
  assert float(jnp.exp(-nll).sum()) == pytest.approx(1.0, abs=1e-5)


def test_model_levels_sets_the_image_grid_and_defaults_to_8_bit():
  # pylint: disable=protected-access
  x = jnp.linspace(0.0, 1.0, 101)[:, None, None, None]
  _, eight_bit, _ = _family("diffusion.py:digits")
  _, counts, _ = _family("diffusion.py:digits", model__levels=16)
  assert eight_bit.levels == 255 and counts.levels == 16
  grid = (counts._to_model(x) + 1.0) * 8.0
  np.testing.assert_allclose(grid, jnp.round(grid), atol=1e-5)
  assert len(np.unique(np.round(np.asarray(grid)))) == 17
  # 0.03 is nearest to count 0 on 17 levels, to 8/255 on the 8-bit grid
  x_03 = jnp.full((1, 8, 8, 1), 0.03)
  assert float(counts._to_model(x_03).max()) == -1.0
  assert float(eight_bit._to_model(x_03).max()) == pytest.approx(2 * 8 / 255 - 1, abs=1e-6)


# --- samplers and the bound under perfect predictors ------------------------------------

def test_ddim_and_ddpm_recover_a_single_data_point_exactly():
  schedule = Schedule.make("linear", 1000)
  x0 = jnp.array([0.7, -1.3])
  eps_fn = _point_oracle(schedule, x0)
  x_T = jax.random.normal(jax.random.key(0), (5, 2))
  for steps in (1, 10, 1000):
    x = jax.jit(lambda z, s=steps: samplers.ddim_sample(schedule, eps_fn, z, s))(x_T)
    np.testing.assert_allclose(x, jnp.broadcast_to(x0, x.shape), atol=1e-4)
  var = schedule.reverse_variances("posterior")
  x = jax.jit(lambda z: samplers.ddpm_sample(schedule, eps_fn, z, jax.random.key(1), var))(x_T)
  np.testing.assert_allclose(x, jnp.broadcast_to(x0, x.shape), atol=1e-4)


def test_ddim_with_eta_one_and_every_step_is_ddpm():
  schedule = Schedule.make("linear", 100)
  eps_fn = _gaussian_oracle(schedule, 0.5, 0.3)
  x_T, rng = jax.random.normal(jax.random.key(0), (64, 2)), jax.random.key(1)
  ddim = samplers.ddim_sample(schedule, eps_fn, x_T, 100, eta=1.0, rng=rng)
  ddpm = samplers.ddpm_sample(schedule, eps_fn, x_T, rng, schedule.reverse_variances("posterior"))
  np.testing.assert_allclose(ddim, ddpm, atol=1e-4)


def test_ddim_inversion_then_generation_reconstructs_the_input():
  schedule = Schedule.make("linear", 1000)
  eps_fn = _gaussian_oracle(schedule, 0.5, 0.3)
  x0 = 0.5 + 0.3 * jax.random.normal(jax.random.key(0), (64, 2))
  invert = jax.jit(lambda x, r: samplers.ddim_invert(schedule, eps_fn, x, 100, r),
                   static_argnums=1)
  generate = jax.jit(lambda z: samplers.ddim_sample(schedule, eps_fn, z, 100))
  plain, refined = invert(x0, 0), invert(x0, 4)
  assert float(jnp.std(refined)) > 0.8  # the encoding is noise-like, not the data
  # eps at the current point instead of the unknown next one: first-order error only ...
  np.testing.assert_allclose(generate(plain), x0, atol=0.1)
  # ... which fixed-point refinement of each step removes
  np.testing.assert_allclose(generate(refined), x0, atol=1e-4)


class _PointNet(nn.Module):
  """The exact eps (or v) predictor for a dataset of one point, as a 'network' for families."""
  x0: tuple[float, ...]
  sqrt_ab: tuple[float, ...]
  prediction: str = "eps"

  @nn.compact
  def __call__(self, x, t_B, label_B=None):
    del label_B
    self.param("unused", nn.initializers.zeros, ())
    ab = jnp.asarray(self.sqrt_ab, jnp.float32)[t_B][:, None] ** 2
    x0 = jnp.asarray(self.x0)
    eps = (x - jnp.sqrt(ab) * x0) / jnp.sqrt(1.0 - ab)
    return eps if self.prediction == "eps" else jnp.sqrt(ab) * eps - jnp.sqrt(1.0 - ab) * x0


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_family_with_a_perfect_predictor_samples_the_point_and_has_the_analytic_bound(prediction):
  config, family, batch = _family(model__timesteps=100, model__variance="posterior",
                                  model__sampler="ddim", model__sample_steps=20,
                                  model__prediction=prediction)
  x0 = (0.6, -0.8)
  family = dataclasses.replace(family, net=_PointNet(
      x0, tuple(np.sqrt(family.schedule.alpha_bars).tolist()), prediction))
  hp = gconfig.hparams_as_arrays(config)
  state = family.init(jax.random.key(0), batch, hp)
  for sampler in ("ddim", "ddpm"):  # DDPM respaced to 20 steps: exact for one point too
    samples = dataclasses.replace(family, sampler=sampler).sample(state, jax.random.key(1), 8, hp)
    np.testing.assert_allclose(samples, np.broadcast_to(x0, (8, 2)), atol=1e-4)
  # every KL term vanishes (exact mean, variance beta_tilde); what remains is the prior term
  # KL(N(sqrt(ab_T) x0, 1 - ab_T) || N(0, 1)) and the decoder's -log N(0; 0, beta_1) per dim
  betas = family.schedule.betas
  ab_T = np.prod(1.0 - betas)
  prior = sum(0.5 * (ab_T * v**2 + (1 - ab_T) - 1 - math.log(1 - ab_T)) for v in x0)
  decoder = 2 * 0.5 * math.log(2 * math.pi * betas[0])
  bound = family.log_prob_bound(state, {"x": jnp.asarray([x0] * 4, jnp.float32)},
                                jax.random.key(2))
  np.testing.assert_allclose(bound, prior + decoder, rtol=1e-5)


# --- guidance, EMA ------------------------------------------------------------------------

def test_guidance_reduces_to_conditional_and_unconditional_predictions(conditional_smoke):
  c, u = jnp.array([1.0, 2.0]), jnp.array([-3.0, 0.5])
  np.testing.assert_allclose(samplers.guided_eps(c, u, 0.0), c)
  np.testing.assert_allclose(samplers.guided_eps(c, u, -1.0), u)
  np.testing.assert_allclose(samplers.guided_eps(c, u, 2.0), 3 * c - 2 * u)
  config, family, batch, state = conditional_smoke
  leaves, tree = jax.tree.flatten(state.ema)  # move off the zero-initialised output layer
  keys = jax.random.split(jax.random.key(1), len(leaves))
  params = jax.tree.unflatten(tree, [p + 0.3 * jax.random.normal(k, p.shape)
                                     for p, k in zip(leaves, keys)])
  x, t, labels = batch["x"][:8], jnp.arange(8) * 6, batch["label"][:8]
  net = lambda lab: family.net.apply({"params": params["net"]}, x, t, lab)
  eps_fn = family._eps_fn  # pylint: disable=protected-access
  guided = lambda w: eps_fn(params, labels, jnp.float32(w))(x, t)
  np.testing.assert_allclose(guided(0.0), net(labels), atol=1e-5)
  np.testing.assert_allclose(guided(-1.0), net(jnp.full_like(labels, 8)), atol=1e-5)
  assert not np.allclose(net(labels), net(jnp.full_like(labels, 8)))
  # the scale is traced: a sweep over guidance compiles the (respaced DDPM) sampler once
  ddpm = dataclasses.replace(family, sampler="ddpm")
  sample = jax.jit(ddpm.sample, static_argnums=2)
  hp = gconfig.hparams_as_arrays(config)
  draws = [sample(state.replace(ema=params), jax.random.key(2), 4,
                  dict(hp, guidance=jnp.float32(w))) for w in (0.0, 1.0, 3.0)]
  assert sample._cache_size() == 1  # pylint: disable=protected-access
  assert np.all(np.isfinite(draws)) and not np.allclose(draws[0], draws[2])


def test_ema_update_matches_hand_computation_and_is_what_samples(conditional_smoke):
  config, family, batch, state = conditional_smoke
  state = state.replace(ema=jax.tree.map(lambda p: p + 1.0, state.params))
  train_step = jax.jit(family.train_step)
  for decay, expected in ((0.999, 2.0 / 11.0), (0.1, 0.1)):  # warm-up min(d, (1+n)/(10+n)), n=1
    hp = dict(gconfig.hparams_as_arrays(config), ema_decay=jnp.float32(decay))
    new, _ = train_step(state, batch, jax.random.key(1), hp)
    for e0, p1, e1 in zip(jax.tree.leaves(state.ema), jax.tree.leaves(new.params),
                          jax.tree.leaves(new.ema)):
      np.testing.assert_allclose(e1, expected * e0 + (1 - expected) * p1, rtol=1e-6, atol=1e-7)
  moved = new.replace(params=jax.tree.map(lambda p: p + 5.0, new.params))
  draw = jax.jit(family.sample, static_argnums=2)
  np.testing.assert_array_equal(draw(new, jax.random.key(3), 16, hp),
                                draw(moved, jax.random.key(3), 16, hp))


# --- the runner, and bad input ------------------------------------------------------------

def test_diffusion_smoke_trains_and_resumes_exactly(tmp_path):
  common = dict(train__log_every=5, train__checkpoint_every=10, train__eval_every=20,
                train__figure_every=0)
  a = runner.train_and_evaluate(load("diffusion.py:smoke", train__num_steps=20, **common),
                                str(tmp_path / "a"))
  runner.train_and_evaluate(load("diffusion.py:smoke", train__num_steps=10, **common),
                            str(tmp_path / "b"))
  b = runner.train_and_evaluate(load("diffusion.py:smoke", train__num_steps=20, **common),
                                str(tmp_path / "b"))
  for x, y in zip(jax.tree.leaves((a.params, a.ema, a.extra)),
                  jax.tree.leaves((b.params, b.ema, b.extra))):
    np.testing.assert_array_equal(x, y)
  assert read_metrics(str(tmp_path / "a")) == read_metrics(str(tmp_path / "b"))
  nll = read_metrics(str(tmp_path / "a"), "eval/nll")[-1]
  assert nll["num_examples"] == 64 and np.isfinite(nll["bound_nats"])
  assert nll["gap_nats"] == pytest.approx(nll["bound_nats"] - nll["exact_nll_nats"])
  assert read_metrics(str(tmp_path / "a"), "eval/modes")[-1]["num_modes"] == 8


@pytest.mark.parametrize("override,message", [
    ({"model__sample_steps": 51}, "model.sample_steps"),
    ({"model__schedule": "quadratic"}, "model.schedule"),
    ({"model__prediction": "x0"}, "model.prediction"),
    ({"model__sampler": "plms"}, "model.sampler"),  # euler, heun, dpmpp2m exist (issue 17)
    ({"model__variance": "learned"}, "model.variance"),
    ({"hparams__guidance": -1.0}, "hparams.guidance"),
    ({"model__label_dropout": 1.5}, "model.label_dropout"),
    ({"model__eta": 2.0}, "model.eta"),
    ({"model__levels": 0}, "model.levels"),
])
def test_bad_diffusion_config_is_refused(override, message):
  with pytest.raises(ConfigError, match=message):
    _family(**override)
