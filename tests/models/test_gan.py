"""The GAN family: hand-checked losses, both players updated, packing, mode statistics."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import config as gconfig
from genjax import data as gdata
from genjax import models
from genjax.errors import ConfigError
from genjax.evals.modes import mode_stats
from genjax.models import gan_losses
from genjax.train import runner
from tests.conftest import load, read_metrics


def test_losses_match_hand_computed_values():
  real, fake = jnp.array([2.0, 0.0]), jnp.array([-1.0, 0.5])
  sp = lambda v: np.log1p(np.exp(v))
  assert float(gan_losses.discriminator_loss("non_saturating", real, fake)) == pytest.approx(
      (sp(-2) + sp(0)) / 2 + (sp(-1) + sp(0.5)) / 2, rel=1e-6)
  assert float(gan_losses.generator_loss("non_saturating", fake)) == pytest.approx(
      (sp(1) + sp(-0.5)) / 2, rel=1e-6)
  # hinge: relu(1 - [2, 0]) = [0, 1]; relu(1 + [-1, .5]) = [0, 1.5]
  assert float(gan_losses.discriminator_loss("hinge", real, fake)) == pytest.approx(0.5 + 0.75)
  assert float(gan_losses.generator_loss("hinge", fake)) == pytest.approx(0.25)  # -mean(fake)
  # least squares: .5 mean([1, 1]) + .5 mean([1, .25])
  assert float(gan_losses.discriminator_loss("least_squares", real, fake)) == pytest.approx(
      0.5 + 0.3125)
  assert float(gan_losses.generator_loss("least_squares", fake)) == pytest.approx(
      0.5 * (4 + 0.25) / 2)


def test_r1_penalty_of_a_linear_critic_is_its_squared_weight_norm():
  w = jnp.array([3.0, 4.0])
  assert float(gan_losses.r1_penalty(lambda x: x @ w, jnp.ones((5, 2)))) == pytest.approx(25.0)


def _family(spec="gan.py:smoke", **kw):
  config = load(spec, **kw)
  source = gdata.load(config.data, "train")
  return config, models.build_family(config, source.info), source.get_batch(np.arange(32))


def test_both_players_are_updated_each_with_its_own_optimiser():
  config, family, batch = _family(model__disc_steps=2)
  hp = gconfig.hparams_as_arrays(config)
  state = family.init(jax.random.key(0), batch, hp)
  new, metrics = jax.jit(family.train_step)(state, batch, jax.random.key(1), hp)
  for group in ("gen", "disc"):
    before, after = jax.tree.leaves(state.params[group]), jax.tree.leaves(new.params[group])
    assert any(not np.allclose(a, b) for a, b in zip(before, after)), group
  # Adam's step count: the discriminator stepped disc_steps times, the generator once.
  assert int(new.opt_state["disc"].inner_state[0].count) == 2
  assert int(new.opt_state["gen"].inner_state[0].count) == 1
  assert 0 < float(metrics["d_real"]) < 1 and 0 < float(metrics["d_fake"]) < 1


def test_packing_judges_m_samples_at_once():
  _, family, batch = _family(model__pack=4)
  state = family.init(jax.random.key(0), batch, {"r1_gamma": jnp.float32(0)})
  logits = family._disc(state.params["disc"], batch["x"], None)  # pylint: disable=protected-access
  assert logits.shape == (32 // 4,)
  first_kernel = jax.tree.leaves(state.params["disc"]["trunk"])[1]
  assert first_kernel.shape[0] == 4 * 2  # four 2-D points side by side


def test_mode_stats_on_constructed_samples():
  means = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
  rng = np.random.default_rng(0)
  one_mode = rng.normal(0, 0.05, (1000, 2))
  stats = mode_stats(one_mode, means, 0.05)
  assert stats["modes"] == 1 and stats["reverse_kl"] == pytest.approx(np.log(4))
  assert stats["high_quality"] > 0.98  # 3 std in 2-D holds 98.9 % of a Gaussian
  spread = means[np.arange(1000) % 4] + rng.normal(0, 0.05, (1000, 2))
  stats = mode_stats(spread, means, 0.05)
  assert stats["modes"] == 4 and stats["reverse_kl"] < 1e-3
  far = np.full((10, 2), 2.0)  # halfway between modes: low quality, no mode covered
  assert mode_stats(far, means, 0.05)["modes"] == 0


@pytest.mark.parametrize("override,message", [
    ({"model__loss": "wgan"}, "model.loss"),
    ({"model__pack": 3}, "model.pack"),
    ({"hparams__r1_gamma": -1.0}, "hparams.r1_gamma"),
])
def test_bad_gan_config_is_refused(override, message):
  with pytest.raises(ConfigError, match=message):
    _family(**override)


def test_gan_smoke_trains_and_resumes_exactly(tmp_path):
  common = dict(train__log_every=5, train__checkpoint_every=5, train__eval_every=10,
                train__figure_every=10)
  a = runner.train_and_evaluate(load("gan.py:smoke", train__num_steps=20, **common), str(tmp_path / "a"))
  runner.train_and_evaluate(load("gan.py:smoke", train__num_steps=10, **common), str(tmp_path / "b"))
  b = runner.train_and_evaluate(load("gan.py:smoke", train__num_steps=20, **common), str(tmp_path / "b"))
  for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
    np.testing.assert_array_equal(x, y)
  assert read_metrics(str(tmp_path / "a")) == read_metrics(str(tmp_path / "b"))
  modes = read_metrics(str(tmp_path / "a"), "eval/modes")[-1]
  assert modes["num_modes"] == 25 and modes["num_samples"] == 2000
