"""Latent-space evaluators: traversal, interpolation, features (and disentanglement end to end)."""
from __future__ import annotations

import json
import math
import os

import ml_collections
import numpy as np
import pytest

from genjax import evals as gevals
from genjax.errors import CapabilityError
from genjax.evals import features, interpolation, traversal
from genjax.evals.latents import linear_interpolation, traversal_codes
from genjax.train import runner, session
from tests.conftest import load

# Its module fixtures train runs: pytest-xdist keeps the module on one worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_latent_evals")


def test_traversal_codes_set_exactly_one_dim_to_each_value():
  z_D = np.array([0.3, -1.2, 2.5], np.float32)
  values_V = np.linspace(-3, 3, 5, dtype=np.float32)
  codes = traversal_codes(z_D, values_V).reshape(3, 5, 3)
  for d in range(3):
    np.testing.assert_array_equal(codes[d, :, d], values_V)
    others = np.delete(codes[d], d, axis=1)
    np.testing.assert_array_equal(others, np.broadcast_to(np.delete(z_D, d), others.shape))


def test_interpolations_start_and_end_exactly_at_their_codes():
  rng = np.random.default_rng(0)
  z0, z1 = rng.standard_normal((2, 8)).astype(np.float32)
  for path in (np.asarray(linear_interpolation(z0, z1, 7)), interpolation.slerp(z0, z1, 7)):
    np.testing.assert_array_equal(path[0], z0)
    np.testing.assert_array_equal(path[-1], z1)


def test_slerp_keeps_the_norm_between_orthogonal_codes_of_equal_norm():
  z0, z1 = np.array([2.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
  path = interpolation.slerp(z0, z1, 5)
  np.testing.assert_allclose(np.linalg.norm(path, axis=1), 2.0, rtol=1e-6)
  np.testing.assert_allclose(path[2], [math.sqrt(2), math.sqrt(2), 0.0], rtol=1e-6)


def test_path_numbers_of_an_even_straight_path():
  frames = np.linspace(0, 1, 5)[None, :, None] * np.ones((1, 5, 4))  # steps of 0.25 * 2
  out = interpolation.path_numbers(frames)
  assert out["smoothness"] == pytest.approx(0.5)
  assert out["max_step_ratio"] == pytest.approx(1.0)
  assert out["path_ratio"] == pytest.approx(1.0)


def test_linear_probe_recovers_factors_from_an_identity_representation():
  rng = np.random.default_rng(0)
  values = rng.uniform(size=(300, 5))
  r2 = features.probe_r2(values[:200], values[:200], values[200:], values[200:], alpha=1e-3)
  np.testing.assert_allclose(r2, 1.0, atol=1e-4)
  labels = rng.integers(0, 4, 300)
  one_hot = np.eye(4)[labels]
  assert features.probe_accuracy(one_hot[:200], labels[:200], one_hot[200:], labels[200:]) == 1.0


def test_few_labels_keeps_the_first_examples_of_each_class():
  labels = np.array([2, 0, 0, 1, 2, 0, 1, 2])
  np.testing.assert_array_equal(features.few_labels(labels, 2), [0, 1, 2, 3, 4, 6])
  drawn = features.few_labels(labels, 2, seed=3)
  np.testing.assert_array_equal(np.bincount(labels[drawn]), [2, 2, 2])  # 2 of each class
  np.testing.assert_array_equal(drawn, features.few_labels(labels, 2, seed=3))  # seeded
  draws = {tuple(features.few_labels(labels, 1, seed=s)) for s in range(20)}
  assert len(draws) > 1  # different seeds pick different examples


@pytest.fixture(scope="module")
def gan_ctx(tmp_path_factory):
  """An untrained GAN (generator, no encoder) on 2D points: capabilities do not need training."""
  s = session.open_session(load("gan.py:smoke"), str(tmp_path_factory.mktemp("gan")))
  return s.eval_context(s.init_state(), 0)


def test_traversal_of_a_family_without_encoder_is_refused_in_one_line(gan_ctx):
  with pytest.raises(CapabilityError,
                     match=r"has no encoder; sweep around a prior draw with "
                     r"--config.evals.traversal.around=prior") as err:
    traversal.run(gan_ctx, ml_collections.ConfigDict())
  assert "\n" not in str(err.value)


def test_a_generator_is_traversed_from_the_prior_and_interpolated_on_the_sphere(gan_ctx):
  out = traversal.run(gan_ctx, ml_collections.ConfigDict({"around": "prior", "num_values": 5}))
  assert out["num_dims"] == gan_ctx.family.latent_dim
  out = interpolation.run(gan_ctx, ml_collections.ConfigDict({"num_pairs": 2, "num_steps": 6}))
  assert out["spherical"] and math.isfinite(out["smoothness"])
  saved = np.load(gan_ctx.path("evals", "interpolation.npz"))
  assert saved["frames"].shape[:2] == (2, 6)
  for name in ("traversal_sorted.png", "interpolation.png"):
    assert os.path.exists(gan_ctx.path("figures", name))


def test_an_autoencoder_is_traversed_in_std_units_ranked_by_code_std(tmp_path):
  s = session.open_session(load("autoencoder.py:smoke"), str(tmp_path))
  ctx = s.eval_context(s.init_state(), 0)
  out = traversal.run(ctx, ml_collections.ConfigDict({"num_values": 3}))
  stds = [out[f"code_std_{r}"] for r in range(out["num_dims"])]
  assert stds == sorted(stds, reverse=True) and "kl_total" not in out
  assert os.path.exists(ctx.path("figures", "traversal_sorted.png"))


@pytest.fixture(scope="module")
def vae_ctx(tmp_path_factory):
  """configs/vae.py:smoke trained for 20 steps (16x16 sprites, 4 latents)."""
  workdir = str(tmp_path_factory.mktemp("vae"))
  runner.train_and_evaluate(load("vae.py:smoke", train__eval_every=20, train__figure_every=20),
                            workdir)
  return session.load_trained(workdir)[1]


def test_latent_evaluators_run_end_to_end_on_a_trained_vae(vae_ctx):
  small = dict(num_train=200, num_eval=100, betavae_num_train=40, betavae_num_eval=20,
               betavae_batch_size=8, factorvae_num_train=40, factorvae_num_eval=20,
               factorvae_batch_size=16, chunk=64)
  cfgs = {"disentanglement": dict(type="disentanglement", **small),
          "traversal": dict(type="traversal"),
          "interpolation": dict(type="interpolation", num_pairs=2),
          "features": dict(type="features", num_train=300, chunk=64)}
  results = gevals.run_evals(vae_ctx, {k: ml_collections.ConfigDict(v) for k, v in cfgs.items()})
  for name, numbers in results.items():
    assert all(math.isfinite(v) for v in numbers.values() if not isinstance(v, str)), (
        name, numbers)
    with open(vae_ctx.path("evals", f"{name}.json")) as f:
      assert json.load(f)["metrics"] == pytest.approx(numbers)
  assert {"mig", "betavae_score", "factorvae_score", "dci_disentanglement", "sap"} <= set(
      results["disentanglement"])
  kls = [results["traversal"][f"kl_dim_{r}"] for r in range(4)]
  assert kls == sorted(kls, reverse=True)
  assert results["traversal"]["active_dims"] == sum(k > traversal.ACTIVE_THRESHOLD for k in kls)
  assert not results["interpolation"]["spherical"]
  assert {"probe_r2", "pixel_r2"} <= set(results["features"])
  # shape is categorical (3 values): classified, and an accuracy lies in [0, 1]
  assert 0.0 <= results["features"]["probe_acc_shape"] <= 1.0
  assert 0.0 <= results["features"]["pixel_acc_shape"] <= 1.0
  assert np.load(vae_ctx.path("evals", "features.npz"))["features"].shape == (256, 4)
  for name in ("traversal_sorted.png", "interpolation.png"):
    assert os.path.exists(vae_ctx.path("figures", name))
