"""pix2pix and CycleGAN: the datasets' truth, the history pool, hand-checked losses, training."""
from __future__ import annotations

import functools
import shutil

import jax
from jax.experimental.compilation_cache import compilation_cache
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from genjax import config as gconfig
from genjax import data as gdata
from genjax import models
from genjax.core.optim import learning_rate_schedule
from genjax.data import translation as tdata
from genjax.errors import CapabilityError, ConfigError
from genjax.evals.translation import image_errors, to_channels, translate_and_save
from genjax.models import cyclegan, pix2pix
from genjax.train import runner, session
from tests.conftest import load, read_metrics

LN2 = float(np.log(2.0))


@pytest.fixture(autouse=True, scope="module")
def _cheap_compiles(tmp_path_factory):
  """Keeps this module's compile time (most of its cost) down, restoring jax's settings after.

  rbg keys: XLA's threefry costs ~1 s of CPU compile per random op (every weight initialiser),
  and nothing tested here depends on which generator draws the numbers. A module-local
  persistent compilation cache: a resumed run compiles the very programs its first leg did.
  """
  settings = {"jax_default_prng_impl": "rbg",
              "jax_compilation_cache_dir": str(tmp_path_factory.mktemp("jax_cache")),
              "jax_persistent_cache_min_compile_time_secs": 0.5}
  previous = {k: getattr(jax.config, k) for k in settings}
  for k, v in settings.items():
    jax.config.update(k, v)
  compilation_cache.reset_cache()
  yield
  for k, v in previous.items():
    jax.config.update(k, v)
  compilation_cache.reset_cache()


def _data(name, split, **kw):
  cfg = gconfig.base_config().data
  cfg.update(dict(name=name, resolution=16, num_train=64, num_test=16), **kw)
  return gdata.load(cfg, split)


def _is(images_NHW3, colour_3):
  """Pixels [N, H, W] of exactly this colour."""
  return np.all(images_NHW3 == colour_3, axis=-1)


# --- data ---------------------------------------------------------------------------------

def test_scenes_render_deterministically_whatever_the_batch():
  src = _data("paired_shapes", "train")
  whole = src.get_batch(np.arange(8))
  again = _data("paired_shapes", "train").get_batch(np.array([5, 2]))
  np.testing.assert_array_equal(again["x"], whole["x"][[5, 2]])
  np.testing.assert_array_equal(again["y"], whole["y"][[5, 2]])
  assert whole["x"].shape == (8, 16, 16, 1) and whole["y"].shape == (8, 16, 16, 3)
  assert src.info.y_shape == (16, 16, 3) and src.info.paired
  for v in whole.values():
    assert v.dtype == np.float32 and v.min() >= 0 and v.max() <= 1
  # Every outline pixel lies on a filled shape of its rendering (not on the background).
  on_line = whole["x"][..., 0] == 0
  assert on_line.any() and not (on_line & _is(whole["y"], tdata.DAY_BACKGROUND)).any()
  test = _data("paired_shapes", "test").get_batch(np.arange(8))
  assert not np.array_equal(test["y"], whole["y"])  # train and test scenes differ


def test_unpaired_train_split_has_no_pairs_and_test_split_holds_the_truth():
  train = _data("unpaired_shapes", "train")
  b = train.get_batch(np.arange(64))
  assert "y_true" not in b and not train.info.paired
  own_night = tdata.render(np.arange(64), 1, 16)["night"]
  assert all(not np.array_equal(b["y"][i], own_night[i]) for i in range(64))
  sigma = tdata.pairing(64)
  assert np.all(sigma != np.arange(64)) and sorted(sigma) == list(range(64))
  np.testing.assert_array_equal(b["y"], own_night[sigma])
  test = _data("unpaired_shapes", "test").get_batch(np.arange(16))
  # y_true is x's own scene at night: background exactly where x has background.
  night_bg = _is(test["y_true"], tdata.NIGHT_BACKGROUND)
  np.testing.assert_array_equal(_is(test["x"], tdata.DAY_BACKGROUND), night_bg)
  assert not np.array_equal(_is(test["y"], tdata.NIGHT_BACKGROUND), night_bg)


# --- history pool -------------------------------------------------------------------------

def _images(*values):
  return jnp.asarray(values, jnp.float32).reshape(-1, 1, 1, 1)


def test_history_pool_fills_then_swaps_half_the_time():
  query = jax.jit(cyclegan.pool_query)
  pool = cyclegan.new_pool(3, (1, 1, 1))
  pool, out = query(pool, _images(1, 2, 3), jax.random.key(0))
  np.testing.assert_array_equal(out, _images(1, 2, 3))  # not full yet: store and return new
  np.testing.assert_array_equal(pool["images"], _images(1, 2, 3))
  assert int(pool["count"]) == 3
  returned_old = 0
  for i in range(100):
    new = 10.0 + i
    before = np.asarray(pool["images"]).ravel()
    pool, out = query(pool, _images(new), jax.random.key(i + 1))
    after, got = np.asarray(pool["images"]).ravel(), float(out[0, 0, 0, 0])
    if got == new:  # the new image passes through; the pool is unchanged
      np.testing.assert_array_equal(after, before)
    else:  # an old image comes out and the new one takes exactly its slot
      returned_old += 1
      slot = int(np.flatnonzero(before == got)[0])
      np.testing.assert_array_equal(after, np.where(np.arange(3) == slot, new, before))
  assert int(pool["count"]) == 3
  assert 30 <= returned_old <= 70  # Binomial(100, 0.5): 4 std either side


def test_history_pool_treats_a_batch_image_by_image():
  pool, out = cyclegan.pool_query(cyclegan.new_pool(2, (1, 1, 1)), _images(1, 2, 3, 4),
                                  jax.random.key(3))
  np.testing.assert_array_equal(out[:2], _images(1, 2))
  assert int(pool["count"]) == 2
  # Each later image passes out or swaps with a stored one, so the images out and in the pool
  # are the inputs plus the copies kept while filling.
  held = np.concatenate([np.asarray(out).ravel(), np.asarray(pool["images"]).ravel()])
  assert sorted(held) == [1, 1, 2, 2, 3, 4]


# --- losses by hand -----------------------------------------------------------------------

def test_pix2pix_objectives_match_hand_computed_values():
  sp = lambda v: float(np.log1p(np.exp(v)))  # pylint: disable=unnecessary-lambda-assignment
  fake, real = jnp.array([0.0, 2.0]), jnp.array([1.0, -1.0])
  y_hat, y = jnp.array([[0.5, 1.0]]), jnp.array([[0.0, 0.5]])
  loss, m = pix2pix.generator_objective(fake, y_hat, y, jnp.float32(100.0))
  assert float(m["g_adv"]) == pytest.approx((sp(0) + sp(-2)) / 2, rel=1e-6)
  assert float(m["l1"]) == pytest.approx(0.5)
  assert float(loss) == pytest.approx((sp(0) + sp(-2)) / 2 + 50.0, rel=1e-6)
  assert float(pix2pix.discriminator_objective(real, fake)) == pytest.approx(
      0.5 * ((sp(-1) + sp(1)) / 2 + (sp(0) + sp(2)) / 2), rel=1e-6)


def test_cyclegan_terms_match_hand_computed_values():
  assert float(cyclegan.lsgan_generator_term(jnp.array([0.0, 2.0, 1.0, 0.5]))) == pytest.approx(
      (1 + 1 + 0 + 0.25) / 4)
  # 0.5 * mean([0, 4]) + 0.5 * mean([0, 4])
  assert float(cyclegan.lsgan_discriminator_term(jnp.array([1.0, 3.0]), jnp.array([0.0, 2.0]))) == (
      pytest.approx(2.0))
  a, b = jnp.array([0.0, 1.0]), jnp.array([0.5, 0.5])
  assert float(cyclegan.l1_pair(a, jnp.array([0.25, 1.0]), b, jnp.array([0.0, 1.0]))) == (
      pytest.approx(0.125 + 0.5))


@functools.cache
def _smoke_family(spec):
  """(family, initial state, batch, hp) of a smoke config, built once per module."""
  return _family(spec)


def _family(spec, **kw):
  config = load(spec, **kw)
  source = gdata.load(config.data, "train")
  hp = gconfig.hparams_as_arrays(config)
  family = models.build_family(config, source.info)
  batch = source.get_batch(np.arange(config.data.batch_size))
  return family, jax.jit(family.init)(jax.random.key(0), batch, hp), batch, hp


def _zeroed(state):
  """All weights 0: generators output sigmoid(0) = 0.5 everywhere, discriminators logit 0."""
  return state.replace(params=jax.tree.map(jnp.zeros_like, state.params))


def test_family_losses_on_constant_images_match_hand_values():
  family, state, _, hp = _smoke_family("cyclegan.py:smoke")
  a, b = jnp.ones((2, 16, 16, 3)), jnp.full((2, 16, 16, 3), 0.2)
  p = _zeroed(state).params
  gen, disc = {k: p[k] for k in cyclegan.GEN}, {k: p[k] for k in cyclegan.DISC}
  loss, (m, _, _) = jax.jit(family._gen_loss)(  # pylint: disable=protected-access
      gen, disc, a, b, hp)
  # adversarial: (0 - 1)^2 twice; cycle and identity: |0.5 - 1| + |0.5 - 0.2| each
  assert float(m["g_adv_ab"]) == pytest.approx(1.0) and float(m["g_adv_ba"]) == pytest.approx(1.0)
  # each a float32 mean over 2 x 16 x 16 x 3 = 1,536 terms: summation error <= n u ~ 1e-4
  assert float(m["cycle"]) == pytest.approx(0.8, rel=1e-4)
  assert float(m["identity"]) == pytest.approx(0.8, rel=1e-4)
  assert float(loss) == pytest.approx(2.0 + 10 * 0.8 + 10 * 0.5 * 0.8, rel=1e-4)
  d_loss, _ = jax.jit(family._disc_loss)(disc, a, b, a, b)  # pylint: disable=protected-access
  assert float(d_loss) == pytest.approx(2 * 0.5)  # 0.5 * (0 - 1)^2 per discriminator

  family, state, batch, hp = _smoke_family("pix2pix.py:smoke")
  y_hat = jax.jit(family.translate)(_zeroed(state), batch["x"])
  np.testing.assert_allclose(y_hat, 0.5)
  loss, m = jax.jit(family._gen_loss)(  # pylint: disable=protected-access
      y_hat, _zeroed(state).params["disc"], batch["x"], batch["y"], hp)
  l1 = float(np.mean(np.abs(0.5 - batch["y"])))
  assert float(m["l1"]) == pytest.approx(l1, rel=1e-5)
  assert float(loss) == pytest.approx(LN2 + 100 * l1, rel=1e-5)


# --- training -----------------------------------------------------------------------------

@pytest.mark.parametrize("spec,groups", [
    ("pix2pix.py:smoke", {"gen": ("gen",), "disc": ("disc",)}),
    ("cyclegan.py:smoke", {"gen": cyclegan.GEN, "disc": cyclegan.DISC}),
])
def test_smoke_updates_every_network_and_resumes_exactly(tmp_path, spec, groups):
  config = load(spec)
  run = session.open_session(config, str(tmp_path / "a"))
  initial = run.init_state()
  a = runner.train_and_evaluate(config, str(tmp_path / "a"))
  # Each network moved, and its group's optimiser stepped once per train step.
  assert set(a.opt_state) == set(groups)
  for group, names in groups.items():
    assert int(jax.tree.leaves(a.opt_state[group])[0]) == config.train.num_steps  # Adam's count
    for name in names:
      before, after = jax.tree.leaves(initial.params[name]), jax.tree.leaves(a.params[name])
      assert any(not np.allclose(x, y) for x, y in zip(before, after)), name
  if spec.startswith("cyclegan"):  # 6 steps of 4 translations filled both 3-image pools
    assert int(a.extra["pool_a"]["count"]) == 3 == int(a.extra["pool_b"]["count"])
  # The run is cut after step 3 by dropping its later checkpoint, not by a shorter first
  # leg: CycleGAN's learning-rate schedule spans train.num_steps, so that must not change.
  shutil.copytree(tmp_path / "a", tmp_path / "b")
  shutil.rmtree(tmp_path / "b" / "checkpoints" / "6")
  b = runner.train_and_evaluate(config, str(tmp_path / "b"))
  for x, y in zip(jax.tree.leaves((a.params, a.extra)), jax.tree.leaves((b.params, b.extra))):
    np.testing.assert_array_equal(x, y)
  assert read_metrics(str(tmp_path / "a")) == read_metrics(str(tmp_path / "b"))
  result = read_metrics(str(tmp_path / "a"), "eval/translation")[-1]
  assert result["num_examples"] == 16 and 0 < result["l1"] < 1 and result["identity_l1"] > 0
  assert (tmp_path / "a" / "figures" / "translation.png").exists()
  # The helper behind `genjax translate`: a trained run's model on any images, as strips.
  x = run.test.get_batch(np.arange(10))["x"]
  y_hat = translate_and_save(run.eval_context(b, 6), x, str(tmp_path / "strips.png"))
  assert y_hat.shape == (10, 16, 16, 3) and 0 <= y_hat.min() and y_hat.max() <= 1
  assert (tmp_path / "strips.png").exists()


def test_sample_translates_a_condition_and_refuses_without_one():
  family, state, batch, hp = _smoke_family("pix2pix.py:smoke")
  out = family.sample(state, jax.random.key(0), 2, hp, cond=batch["x"])
  assert out.shape == (2, 16, 16, 3)
  with pytest.raises(CapabilityError, match="no prior"):
    family.sample(state, jax.random.key(0), 2, hp)


def test_constant_then_linear_schedule_halves_then_decays_to_zero():
  optim = ml_collections.ConfigDict(dict(learning_rate=2e-4, schedule="constant_then_linear",
                                         warmup_steps=0))
  lr = learning_rate_schedule(optim, 100)
  assert [float(lr(s)) for s in (0, 49, 50)] == pytest.approx([2e-4, 2e-4, 2e-4])
  assert float(lr(75)) == pytest.approx(1e-4) and float(lr(100)) == pytest.approx(0.0)


def test_metrics_of_known_errors():
  truth = np.zeros((1, 2, 2, 3))
  errors = image_errors(np.full((1, 2, 2, 3), 0.1), truth)
  assert errors["l1"][0] == pytest.approx(0.1) and errors["psnr"][0] == pytest.approx(20.0)
  assert to_channels(np.ones((1, 2, 2, 1)), 3).shape == (1, 2, 2, 3)


# --- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("spec,override,message", [
    ("pix2pix.py:smoke", {"data__name": "unpaired_shapes"}, "needs paired data"),
    ("cyclegan.py:smoke", {"data__name": "digits"}, "has no y"),
    ("pix2pix.py:smoke", {"data__name": "sprites"}, "has no y"),
    ("cyclegan.py:smoke", {"hparams__lambda_cycle": -1.0}, "lambda_cycle"),
    ("pix2pix.py:smoke", {"model__disc_layers": 4}, "disc_layers"),
])
def test_bad_translation_config_is_refused(spec, override, message):
  with pytest.raises(ConfigError, match=message):
    _family(spec, **override)
