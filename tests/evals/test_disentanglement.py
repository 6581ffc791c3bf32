"""Disentanglement metrics on representations whose answer is known: the factors themselves,
noise, and a mixture of two factors."""
from __future__ import annotations

import math
import types

import numpy as np
import pytest
from sklearn import metrics

from genjax.data.base import DatasetInfo
from genjax.errors import ConfigError
from genjax.evals import disentanglement
from genjax.evals import disentanglement_metrics as dm

# At most 20 values per factor: 20-bin histograms then keep every value apart, so MIG can
# reach exactly 1 (with dSprites' 40 orientations it tops out at log 20 / log 40).
SIZES = (3, 6, 20, 16, 16)
NUM_TRAIN, NUM_EVAL = 1000, 500
POINTS_TRAIN, POINTS_EVAL, BATCH = 150, 100, 16
PERM = np.array([3, 0, 4, 1, 2])
SCALE = np.array([0.5, 2.0, 1.0, 3.0, 1.5])


def _standardise(f_NK):
  """Factor indices at zero mean and unit variance (a uniform index over s values has
  variance (s^2 - 1) / 12)."""
  s = np.asarray(SIZES, np.float64)
  return (f_NK - (s - 1) / 2) / np.sqrt((s**2 - 1) / 12)


def permuted(f_NK):
  """Each code dim is one factor, rescaled; dims in another order than the factors."""
  return _standardise(f_NK)[..., PERM] * SCALE


def noise(f_NK):
  rng = np.random.default_rng(int(f_NK.sum()) % 2**32)
  return rng.standard_normal(f_NK.shape[:-1] + (6,))


def mixed(f_NK):
  """Factors 0 and 1 rotated into each other; the rest kept as they are."""
  s = _standardise(f_NK)
  return np.concatenate([s[..., :1] + s[..., 1:2], s[..., :1] - s[..., 1:2], s[..., 2:]], -1)


def scores(represent, seed=0):
  rng = np.random.default_rng(seed)
  f_NK = dm.sample_factors(rng, SIZES, NUM_TRAIN + NUM_EVAL)
  out = dm.all_random_sample_metrics(represent(f_NK), f_NK, NUM_TRAIN, seed)
  f1, f2, k_P = dm.fixed_factor_pairs(rng, SIZES, POINTS_TRAIN + POINTS_EVAL, BATCH)
  out.update(dm.betavae_score(represent(f1), represent(f2), k_P, POINTS_TRAIN, seed))
  f_VBK, k_V = dm.fixed_factor_batches(rng, SIZES, POINTS_TRAIN + POINTS_EVAL, 2 * BATCH)
  out.update(dm.factorvae_score(represent(f_VBK), k_V, np.var(represent(f_NK), 0), POINTS_TRAIN,
                                len(SIZES)))
  return out


@pytest.fixture(scope="module")
def perfect():
  return scores(permuted)


def test_every_metric_is_near_its_maximum_for_permuted_rescaled_factors(perfect):
  for name in ("betavae_score", "factorvae_score", "dci_disentanglement", "dci_completeness",
               "dci_informativeness", "sap"):
    assert perfect[name] > 0.97, (name, perfect[name])
  # The plug-in estimate of the runner-up's MI is biased up by about (bins - 1)(values - 1)
  # / 2N nats: 0.18 nats, 0.06 of log 20, for a 20-value factor from 1,000 samples.
  assert perfect["mig"] > 0.9


def test_every_metric_is_near_chance_for_noise():
  out = scores(noise)
  for name in ("mig", "dci_disentanglement", "dci_completeness", "sap"):
    assert out[name] < 0.1, (name, out[name])
  # Classifier scores sit at chance (1 / 5 factors), not at zero.
  assert out["betavae_score"] < 0.4
  assert out["factorvae_score"] < 0.45


def test_dci_disentanglement_drops_when_two_factors_are_mixed(perfect):
  out = scores(mixed)
  assert out["dci_disentanglement"] < perfect["dci_disentanglement"] - 0.1
  assert out["dci_informativeness"] > 0.95  # mixed, yet nothing is lost


def test_metrics_are_deterministic_for_a_seed():
  assert scores(noise, seed=3) == scores(noise, seed=3)


def test_sampled_factors_share_exactly_the_fixed_factor():
  rng = np.random.default_rng(0)
  f1, f2, k_P = dm.fixed_factor_pairs(rng, SIZES, 50, 8)
  assert all((f1[p, :, k] == f2[p, :, k]).all() for p, k in enumerate(k_P))
  f_VBK, k_V = dm.fixed_factor_batches(rng, SIZES, 50, 8)
  assert all((f_VBK[v, :, k] == f_VBK[v, 0, k]).all() for v, k in enumerate(k_V))
  assert (f_VBK < np.asarray(SIZES)).all() and (f_VBK >= 0).all()


def test_collapsed_dims_never_vote():
  rng = np.random.default_rng(0)
  f_VBK, k_V = dm.fixed_factor_batches(rng, SIZES, 60, 16)
  z = np.concatenate([permuted(f_VBK), np.zeros(f_VBK.shape[:2] + (2,))], -1)
  variances = np.r_[np.var(permuted(f_VBK).reshape(-1, 5), 0), 0.0, 0.01]
  out = dm.factorvae_score(z, k_V, variances, 40, len(SIZES))
  assert out["factorvae_active_dims"] == 5
  assert out["factorvae_score"] == 1.0


def test_mig_estimator_is_the_plugin_estimate_pinned_by_hand():
  # Joint [[1/2, 0], [1/4, 1/4]]: I = 1/2 log(4/3) + 1/4 log(2/3) + 1/4 log 2.
  a, b = np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1])
  expected = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)
  assert dm.plugin_mutual_info(a, b) == pytest.approx(expected, abs=1e-12)
  assert metrics.mutual_info_score(a, b) == pytest.approx(expected, abs=1e-12)
  rng = np.random.default_rng(0)
  x, y = rng.integers(0, 20, 500), rng.integers(0, 7, 500)
  assert metrics.mutual_info_score(y, x) == pytest.approx(dm.plugin_mutual_info(x, y), abs=1e-10)


def test_discretize_uses_equal_width_bins_with_the_extremes_inside():
  z = np.r_[0.0, (np.arange(20) + 0.5) / 20, 1.0][:, None]  # bin centres and both ends
  bins = dm.discretize(z, 20)[:, 0]
  np.testing.assert_array_equal(bins, np.r_[0, np.arange(20), 19])


def test_dci_of_known_importance_matrices():
  assert dm.dci_from_importance(np.eye(3)) == {"dci_disentanglement": 1.0,
                                               "dci_completeness": 1.0}
  uniform = dm.dci_from_importance(np.ones((3, 3)))
  assert uniform["dci_disentanglement"] == pytest.approx(0.0, abs=1e-12)
  assert uniform["dci_completeness"] == pytest.approx(0.0, abs=1e-12)
  # One code for two factors: perfectly complete, half disentangled (1 - log 2 / log 4).
  half = dm.dci_from_importance(np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]))
  assert half["dci_completeness"] == pytest.approx(1.0)
  assert half["dci_disentanglement"] == pytest.approx(0.5)


def test_disentanglement_refuses_a_dataset_without_factors():
  ctx = types.SimpleNamespace(info=DatasetInfo(name="digits", x_shape=(8, 8, 1), kind="image"))
  with pytest.raises(ConfigError, match="needs ground-truth factors"):
    disentanglement.check_factors(ctx)
