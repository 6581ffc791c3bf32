"""The GAN's discriminator stabilisers: spectral norm, DiffAugment, WGAN-GP, LeCam, TTUR.

Each is checked against its definition (power-iteration theory, the augmentation's stated
ranges, hand-derived penalties), and for what the runner needs: checkpointed state,
gradient accumulation and vmapped populations.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import config as gconfig
from genjax import data as gdata
from genjax import models
from genjax.errors import ConfigError
from genjax.models import common, diffaugment, gan_losses
from genjax.train import runner
from genjax.train import session as gsession
from tests.conftest import (assert_same_params, assert_within_summation_rounding, load,
                            straight_and_resumed_runs)

_ALL_TOY = dict(model__spectral_norm=True, hparams__gp_lambda=1.0, hparams__lecam_lambda=0.3)
# digits through the MLP nets: DiffAugment's image path at the cost of a toy model
_TINY_IMAGES = dict(model__net="mlp", model__widths=(32, 32), data__batch_size=32)


def _family(spec="gan.py:smoke", **kw):
  config = load(spec, **kw)
  source = gdata.load(config.data, "train")
  family = models.build_family(config, source.info)
  hp = gconfig.hparams_as_arrays(config)
  batch = source.get_batch(np.arange(config.data.batch_size))
  return family, hp, batch, family.init(jax.random.key(0), batch, hp)


# --- spectral normalisation -------------------------------------------------------------

def _kernels_and_stats(params, spectral):
  """(name, kernel, sigma estimate, u) of every spectrally normalised layer."""
  out = []
  def walk(p, s, prefix):
    for name, stats in s.items():
      if name.startswith("SpectralNorm"):
        layer = next(iter(stats)).split("/")[0]
        out.append((prefix + layer, p[layer]["kernel"], stats[f"{layer}/kernel/sigma"],
                    stats[f"{layer}/kernel/u"]))
      else:
        walk(p[name], stats, prefix + name + "/")
  walk(params, spectral, "")
  return sorted(out, key=lambda t: t[0])


def test_spectral_estimate_meets_the_power_iteration_bound_after_n_steps():
  """With a learning rate too small to move the kernels, the train step is pure power
  iteration on a fixed W (persistent u, one iteration per discriminator step). Theory: with
  W = sum s_i a_i b_i^T and u_0 at angle theta_0 to b_1, the estimate after n steps,
  ||W^T v|| with v = W u_{n-1} / ||W u_{n-1}||, lies in [s_1 cos(theta), s_1] where
  tan(theta) <= (s_2 / s_1)^(2n - 1) tan(theta_0). Float32 rounding: 1e-5 relative."""
  n = 100  # the 32x32 layer's s_2 / s_1 is 0.958 and its tan(theta_0) 26 at this seed
  family, hp, batch, state = _family(**_ALL_TOY, optim__learning_rate=1e-30, model__disc_steps=4)
  first = _kernels_and_stats(state.params["disc"], state.extra["spectral"])
  assert len(first) == 3  # two trunk layers and the head
  step = jax.jit(family.train_step)
  for i in range(n // 4):
    state, _ = step(state, batch, jax.random.key(i), hp)
  for (name, w0, _, u0), (_, w, sigma, _) in zip(
      first, _kernels_and_stats(state.params["disc"], state.extra["spectral"])):
    np.testing.assert_array_equal(w, w0)  # the kernel did not move: W is fixed
    w = np.asarray(w, np.float64).reshape(-1, w.shape[-1])
    _, s, vh = np.linalg.svd(w)
    c = vh @ np.asarray(u0, np.float64)[0]
    tan0 = np.linalg.norm(c[1:]) / abs(c[0])
    rho = s[1] / s[0] if len(s) > 1 else 0.0
    lower = 1 / np.sqrt(1 + (rho ** (2 * n - 1) * tan0) ** 2)
    assert lower > 0.99, (name, rho, tan0)  # the bound itself says "close to 1"
    assert lower - 1e-5 <= float(sigma) / s[0] <= 1 + 1e-5, (name, float(sigma), s[0])


def test_evaluation_reads_the_spectral_state_and_leaves_it():
  family, hp, batch, state = _family(model__spectral_norm=True)
  state, _ = jax.jit(family.train_step)(state, batch, jax.random.key(1), hp)
  before = jax.tree.map(np.asarray, state.extra)
  logits = family.eval_step(state, batch, jax.random.key(2), hp)["disc_logit"]
  family.sample(state, jax.random.key(3), 4, hp)
  jax.tree.map(np.testing.assert_array_equal, before, jax.tree.map(np.asarray, state.extra))
  # D divides by sigma from u: dropping the state changes the logits
  bare = family._disc(state.params["disc"], batch["x"], None,  # pylint: disable=protected-access
                      jax.tree.map(jnp.ones_like, state.extra["spectral"]))
  assert not np.allclose(logits, bare)


# --- DiffAugment --------------------------------------------------------------------------

_OPS = diffaugment.OPS


def test_same_key_same_image_same_transform_and_real_and_fake_share_it():
  x = jax.random.uniform(jax.random.key(0), (8, 16, 16, 3))
  a = diffaugment.augment(jax.random.key(5), x, _OPS)
  np.testing.assert_array_equal(a, diffaugment.augment(jax.random.key(5), x, _OPS))
  assert not np.allclose(a, diffaugment.augment(jax.random.key(6), x, _OPS))
  # in the step: a fake batch equal to the real one is judged exactly like it
  family, hp, batch, state = _family("gan.py:digits", **_TINY_IMAGES, model__diffaugment="color,translation,cutout")
  aug = family._draw_augment(jax.random.key(1), batch["x"].shape)  # pylint: disable=protected-access
  _, m = family._disc_loss(state.params["disc"], batch["x"], batch["x"], None, aug, None, hp,  # pylint: disable=protected-access
                           None, None)
  assert float(m["d_real"]) == float(m["d_fake"])


def test_translation_shifts_up_to_an_eighth_of_the_side_with_zero_fill():
  side, num = 16, 20_000
  shift = np.asarray(diffaugment.draw(jax.random.key(0), ("translation",), (num, side, side, 1))["shift"])
  assert shift.min() == -2 and shift.max() == 2  # round(16 / 8)
  counts = np.bincount(shift.ravel() + 2) / shift.size
  # each of the 5 values has probability 1/5; binomial std sqrt(.2 * .8 / 40000) = 0.002
  np.testing.assert_allclose(counts, 0.2, atol=5 * 0.002)
  x = np.arange(side * side, dtype=np.float32).reshape(1, side, side, 1) + 1
  out = np.asarray(diffaugment.apply(jnp.asarray(x), {"shift": jnp.array([[2, -1]])}))
  want = np.zeros_like(x)
  want[0, 2:, :-1] = x[0, :-2, 1:]  # down 2, left 1
  np.testing.assert_array_equal(out, want)


def test_cutout_zeroes_a_quarter_of_the_image_in_one_square():
  side, num = 16, 4000
  ones = jnp.ones((num, side, side, 1))
  params = diffaugment.draw(jax.random.key(1), ("cutout",), ones.shape)
  out = np.asarray(diffaugment.apply(ones, params))
  cut = out[..., 0] == 0
  np.testing.assert_array_equal(cut.mean(axis=(1, 2)), 0.25)  # (8 * 8) / (16 * 16), every image
  rows, cols = cut.any(2), cut.any(1)
  assert (rows.sum(1) == 8).all() and (cols.sum(1) == 8).all()  # one 8x8 square
  corner = np.asarray(params["cutout"])
  assert corner.min() == 0 and corner.max() == 8
  # corners uniform on 0..8: mean 4, std sqrt(80 / 12) / sqrt(8000)
  assert abs(corner.mean() - 4) < 5 * np.sqrt(80 / 12 / corner.size)


def test_colour_draws_meet_their_ranges_and_formulas():
  num = 20_000
  p = {k: np.asarray(v) for k, v in diffaugment.draw(jax.random.key(2), ("color",),
                                                    (num, 4, 4, 3)).items()}
  for name, lo, hi in (("brightness", -0.25, 0.25), ("saturation", 0, 2), ("contrast", 0.5, 1.5)):
    assert lo <= p[name].min() and p[name].max() < hi, name
    # uniform: mean (lo + hi) / 2, std (hi - lo) / sqrt(12 num)
    assert abs(p[name].mean() - (lo + hi) / 2) < 5 * (hi - lo) / np.sqrt(12 * num), name
  # one 1x2 RGB image, by hand: +0.1, channel means scaled by 2, image mean scaled by 0.5
  x = jnp.array([[[[0.2, 0.4, 0.6], [0.0, 0.0, 0.3]]]])
  out = diffaugment.apply(x, {"brightness": jnp.array([0.1]), "saturation": jnp.array([2.0]),
                              "contrast": jnp.array([0.5])})
  b = np.array([[0.3, 0.5, 0.7], [0.1, 0.1, 0.4]])
  s = 2 * (b - b.mean(-1, keepdims=True)) + b.mean(-1, keepdims=True)
  c = 0.5 * (s - s.mean()) + s.mean()
  np.testing.assert_allclose(out[0, 0], c, rtol=1e-6)


def test_generator_gradients_flow_through_the_augmentation():
  x = jax.random.uniform(jax.random.key(0), (2, 16, 16, 1))
  params = diffaugment.draw(jax.random.key(3), ("translation", "cutout"), x.shape)
  g = jax.grad(lambda v: jnp.sum(diffaugment.apply(v, params)))(x)
  # each input pixel reaches at most one output pixel; those that survive get gradient 1
  assert set(np.unique(g)) == {0.0, 1.0} and 0.5 < float(g.mean()) <= 0.75


def test_diffaugment_on_vectors_and_unknown_ops_are_refused():
  with pytest.raises(ConfigError, match="model.diffaugment='cutout' augments images"):
    _family(model__diffaugment="cutout")
  with pytest.raises(ConfigError, match="config.model.diffaugment='rotate' is out of range"):
    load("gan.py:digits", model__diffaugment="rotate")


# --- WGAN-GP ------------------------------------------------------------------------------

def test_gradient_penalty_of_a_unit_linear_critic_is_zero_and_of_a_quadratic_by_hand():
  w = jnp.array([0.6, 0.8])  # ||w|| = 1
  x = jax.random.normal(jax.random.key(0), (7, 2))
  assert float(gan_losses.gradient_penalty(lambda v: v @ w, x)) == pytest.approx(0, abs=1e-12)
  # D(x) = ||x||^2 / 2: grad = x, so the penalty is mean((||x|| - 1)^2) = (16 + 0.25) / 2
  quad = lambda v: 0.5 * jnp.sum(v**2, axis=-1)
  x_hat = jnp.array([[3.0, 4.0], [0.0, 0.5]])
  assert float(gan_losses.gradient_penalty(quad, x_hat)) == pytest.approx(8.125)
  # packed by two: one D input of 4 numbers, gradient norm sqrt(25 + .25)
  pair = lambda v: 0.5 * jnp.sum(v.reshape(1, -1) ** 2, axis=-1)
  assert float(gan_losses.gradient_penalty(pair, x_hat, group=2)) == pytest.approx(
      (np.sqrt(25.25) - 1) ** 2, rel=1e-6)
  real, fake = jnp.ones((3, 2)), jnp.zeros((3, 2))
  np.testing.assert_allclose(gan_losses.interpolate(real, fake, jnp.array([1.0, 0.0, 0.25])),
                             [[1, 1], [0, 0], [0.25, 0.25]])


def test_wasserstein_losses_by_hand():
  real, fake = jnp.array([2.0, 0.0]), jnp.array([-1.0, 0.5])
  assert float(gan_losses.discriminator_loss("wasserstein", real, fake)) == pytest.approx(-1.25)
  assert float(gan_losses.generator_loss("wasserstein", fake)) == pytest.approx(0.25)


# --- LeCam --------------------------------------------------------------------------------

def test_lecam_penalty_and_anchor_updates_by_hand():
  # real [1, 2] vs fake anchor -0.5: (1.5^2 + 2.5^2) / 2; fake [-1, 0] vs 0.5: (1.5^2 + .5^2) / 2
  assert float(gan_losses.lecam_penalty(jnp.array([1.0, 2.0]), jnp.array([-1.0, 0.0]),
                                        jnp.float32(0.5), jnp.float32(-0.5))) == pytest.approx(5.5)
  family, hp, batch, state = _family(hparams__lecam_lambda=0.3, model__disc_steps=2)
  assert float(state.extra["lecam"]["real"]) == 0 == float(state.extra["lecam"]["fake"])
  new, m = jax.jit(family.train_step)(state, batch, jax.random.key(1), hp)
  # the metrics are the second discriminator step's (update n = 1, decay 2 / 11); the first
  # (decay 1 / 10) is redone here from the same draws
  params, anchors = state.params["disc"], state.extra["lecam"]
  rng = jax.random.fold_in(jax.random.key(1), 0)
  z = jax.random.normal(jax.random.fold_in(rng, 0), (32, family.latent_dim))
  fake = family._generate(state.params["gen"], z, None)  # pylint: disable=protected-access
  _, m0 = family._disc_loss(params, batch["x"], fake, None, None, None, hp, None,  # pylint: disable=protected-access
                            anchors)
  first = {k: 0.9 * float(m0[f"d_{k}_logit"]) for k in ("real", "fake")}
  for k in ("real", "fake"):
    want = (2 / 11) * first[k] + (9 / 11) * float(m[f"d_{k}_logit"])
    assert float(new.extra["lecam"][k]) == pytest.approx(want, rel=1e-5, abs=1e-7)
  # the penalty enters D's loss with weight lecam_lambda
  base = dict(hp, lecam_lambda=jnp.float32(0))
  loss0, _ = family._disc_loss(params, batch["x"], fake, None, None, None, base, None,  # pylint: disable=protected-access
                               anchors)
  assert float(m0["d_loss"]) == pytest.approx(float(loss0) + 0.3 * float(m0["lecam"]), rel=1e-6)


# --- TTUR ---------------------------------------------------------------------------------

@pytest.mark.parametrize("disc_lr,want", [(1e-3, 1e-3), (0.0, 2e-4)])
def test_ttur_the_discriminators_optimiser_uses_disc_learning_rate(disc_lr, want):
  family, hp, batch, state = _family(optim__disc_learning_rate=disc_lr)
  new, _ = jax.jit(family.train_step)(state, batch, jax.random.key(1), hp)
  assert float(common.learning_rate(new.opt_state["disc"])) == pytest.approx(want)
  assert float(common.learning_rate(new.opt_state["gen"])) == pytest.approx(2e-4)


# --- config, checkpoints, accumulation, populations ---------------------------------------

@pytest.mark.parametrize("override,message", [
    ({"model__spectral_norm": 1}, "model.spectral_norm"),
    ({"hparams__gp_lambda": -1.0}, "hparams.gp_lambda"),
    ({"hparams__lecam_lambda": -0.5}, "hparams.lecam_lambda"),
    ({"optim__disc_learning_rate": -1e-4}, "optim.disc_learning_rate"),
])
def test_out_of_range_stabiliser_values_are_refused(override, message):
  with pytest.raises(ConfigError, match=message):
    load("gan.py:smoke", **override)


def test_resume_restores_the_spectral_and_lecam_state_exactly(tmp_path):
  steps = dict(train__log_every=5, train__checkpoint_every=5, train__eval_every=0,
               train__figure_every=0)
  straight, resumed = straight_and_resumed_runs("gan.py:smoke", tmp_path, 10, 5, **_ALL_TOY,
                                                **steps)
  assert_same_params(straight, resumed)
  for a, b in zip(jax.tree.leaves(straight.extra), jax.tree.leaves(resumed.extra)):
    np.testing.assert_array_equal(a, b)
  assert set(straight.extra) == {"spectral", "lecam"}


# plain SGD: accumulated and full-batch steps then agree within summation rounding
_SGD = dict(optim__name="sgd", optim__b1=0.0, optim__learning_rate=1e-2, data__batch_size=32,
            train__steps_per_call=1)


@pytest.mark.parametrize("spec,extra", [
    ("gan.py:smoke", dict(_ALL_TOY, model__widths=(16, 16))),
    ("gan.py:digits", dict(_TINY_IMAGES, model__diffaugment="color,translation,cutout",
                           model__spectral_norm=True, hparams__gp_lambda=1.0, model__pack=2)),
])
def test_accumulated_step_with_every_stabiliser_equals_the_full_batch_step(tmp_path, spec, extra):
  def opened(**kw):
    s = gsession.open_session(load(spec, **dict(_SGD, **extra), model__disc_steps=2, **kw),
                              str(tmp_path / "unused"))
    return s, s.init_state()
  full, state0 = opened()
  acc, _ = opened(train__grad_accum_steps=4)
  batch = full.train.get_batch(np.arange(32))
  rng = full.rng(gsession.TRAIN_STREAM)
  want, want_m = jax.jit(full.family.train_step)(state0, batch, rng, full.hp)
  got, got_m = jax.jit(acc.family.train_step)(state0, batch, rng, acc.hp)
  assert_within_summation_rounding(got, want, state0, want, steps=1)
  for a, b in zip(jax.tree.leaves(got.extra), jax.tree.leaves(want.extra)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
  for name in want_m:
    np.testing.assert_allclose(got_m[name], want_m[name], rtol=1e-5, atol=1e-6)


def test_a_vmapped_population_varies_gp_and_lecam_and_each_member_is_its_solo_run(tmp_path):
  short = dict(_SGD, **_ALL_TOY, train__num_steps=1, train__log_every=1,
               train__checkpoint_every=1, train__eval_every=0, train__figure_every=0)
  members = [dict(hparams__gp_lambda=0.0, hparams__lecam_lambda=1.0, seed=0),
             dict(hparams__gp_lambda=10.0, hparams__lecam_lambda=0.0, seed=1)]
  configs = [load("gan.py:smoke", **dict(short, **m)) for m in members]
  with jax.default_matmul_precision("highest"):
    start = [runner.train_and_evaluate(load("gan.py:smoke", **dict(short, **m, train__num_steps=0)),
                                       str(tmp_path / f"start{i}")) for i, m in enumerate(members)]
    solo = [runner.train_and_evaluate(c, str(tmp_path / f"solo{i}")) for i, c in enumerate(configs)]
    states, errors = runner.train_members(configs, [str(tmp_path / f"pop{i}") for i in range(2)],
                                          mode="vmap")
  assert errors == [None, None]
  for state, alone, s0 in zip(states, solo, start):
    assert_within_summation_rounding(state, alone, s0, alone, steps=1)
  assert not np.allclose(jax.tree.leaves(states[0].params)[0], jax.tree.leaves(states[1].params)[0])

