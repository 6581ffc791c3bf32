"""Toy 2D distributions: mixture samples match their settings, exact densities are exact."""
from __future__ import annotations

import numpy as np
import pytest

from genjax.data import toy2d
from genjax.errors import DataError


@pytest.mark.parametrize("toy, num_modes, std", [("ring8", 8, 0.01), ("grid25", 25, 0.05)])
def test_mixture_samples_match_the_settings(data_cfg, toy, num_modes, std):
  src = toy2d.load(data_cfg(name="toy2d", toy=toy), "train")
  x, label = src.arrays["x"], src.arrays["label"]
  assert len(src) == 100_000 and x.shape == (100_000, 2) and x.dtype == np.float32
  assert src.info.num_classes == num_modes and src.info.kind == "vector"
  means, s = toy2d.mixture(toy)
  assert s == std and means.shape == (num_modes, 2)
  counts = np.bincount(label, minlength=num_modes)
  n = 100_000 / num_modes
  assert np.abs(counts - n).max() < 5 * np.sqrt(n)  # equal weights
  for k in range(num_modes):
    xk = x[label == k]
    assert np.abs(xk.mean(0) - means[k]).max() < 5 * std / np.sqrt(len(xk))
    np.testing.assert_allclose(xk.std(0), std, rtol=0.05)


def test_mixture_means_are_pacgans():
  ring, _ = toy2d.mixture("ring8")
  np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 1.0)
  np.testing.assert_allclose(ring[2], [0.0, 1.0], atol=1e-12)
  grid, _ = toy2d.mixture("grid25")
  assert set(grid[:, 0]) == {-4.0, -2.0, 0.0, 2.0, 4.0} == set(grid[:, 1])


def test_train_and_test_are_different_fixed_draws(data_cfg):
  cfg = data_cfg(name="toy2d", toy="ring8", num_train=500, num_test=300)
  train, test = toy2d.load(cfg, "train"), toy2d.load(cfg, "test")
  assert len(train) == 500 and len(test) == 300
  assert not np.allclose(train.arrays["x"][:300], test.arrays["x"])
  np.testing.assert_array_equal(train.arrays["x"], toy2d.load(cfg, "train").arrays["x"])


@pytest.mark.parametrize("toy, half_width, step", [("ring8", 1.1, 0.002), ("grid25", 4.4, 0.01)])
def test_log_density_integrates_to_one(toy, half_width, step):
  # Midpoint rule at std/5 spacing: the error for a Gaussian is far below 1e-4.
  ticks = np.arange(-half_width, half_width, step) + step / 2
  gx, gy = np.meshgrid(ticks, ticks)
  p = np.exp(toy2d.log_density(toy, np.stack([gx.ravel(), gy.ravel()], 1)))
  assert abs(p.sum() * step**2 - 1) < 1e-3


def test_log_density_at_a_mean_matches_the_hand_value():
  # At a ring mean the other modes (>= 0.77 away, std 0.01) contribute exp(-2900): nothing.
  hand = -np.log(8) - np.log(2 * np.pi * 0.01**2)
  np.testing.assert_allclose(toy2d.log_density("ring8", np.array([[1.0, 0.0]])), [hand],
                             rtol=1e-12)
  hand = -np.log(25) - np.log(2 * np.pi * 0.05**2)
  np.testing.assert_allclose(toy2d.log_density("grid25", np.array([[2.0, -4.0]])), [hand],
                             rtol=1e-12)


def test_log_density_between_modes_is_finite_and_exact():
  # Halfway between two ring modes both contribute equally, each exp(-733): a naive
  # exp-then-log would give -inf.
  a = np.array([1.0, 0.0])
  b = np.array([np.cos(np.pi / 4), np.sin(np.pi / 4)])
  d2 = np.sum(((a - b) / 2) ** 2)
  hand = np.log(2 / 8) - np.log(2 * np.pi * 1e-4) - d2 / (2 * 1e-4)
  got = toy2d.log_density("ring8", ((a + b) / 2)[None])
  np.testing.assert_allclose(got, [hand], rtol=1e-10)


@pytest.mark.parametrize("toy", ["moons", "swissroll"])
def test_sklearn_toys_are_about_unit_variance_and_have_no_density(data_cfg, toy):
  src = toy2d.load(data_cfg(name="toy2d", toy=toy, num_test=20_000), "test")
  x = src.arrays["x"]
  assert x.shape == (20_000, 2) and x.dtype == np.float32
  assert np.abs(x.mean(0)).max() < 0.1
  assert 0.8 < x.var(0).mean() < 1.2
  assert ("label" in src.arrays) == (toy == "moons")
  with pytest.raises(DataError, match="no closed-form"):
    toy2d.log_density(toy, x[:5])


def test_unknown_toy_raises_data_error(data_cfg):
  with pytest.raises(DataError, match="ring8"):
    toy2d.load(data_cfg(name="toy2d", toy="ring7"), "train")
