"""Precision/recall, Frechet distance and the data-copying statistic on constructed sets."""
from __future__ import annotations

import numpy as np
import pytest

from genjax.evals import sample_metrics


def _modes(num_modes: int) -> np.ndarray:
  """Mode centres on a circle of radius 10 in 2D: neighbours 6.2 apart, 20 mode stds."""
  angle = 2 * np.pi * np.arange(num_modes) / num_modes
  return 10.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def _mixture(centres_KF: np.ndarray, num: int, seed: int) -> np.ndarray:
  rng = np.random.default_rng(seed)
  which = rng.integers(len(centres_KF), size=num)
  return centres_KF[which] + 0.3 * rng.normal(size=(num, centres_KF.shape[1]))


def test_precision_and_recall_are_one_for_identical_sets():
  real = _mixture(_modes(10), 600, seed=0)
  assert sample_metrics.precision_recall(real, real.copy(), k=3) == (1.0, 1.0)


def test_recall_halves_when_samples_cover_half_of_the_modes():
  centres = _modes(10)
  real = _mixture(centres, 1000, seed=0)
  fresh = _mixture(centres, 1000, seed=1)
  half = _mixture(centres[:5], 1000, seed=2)
  precision, recall = sample_metrics.precision_recall(real, fresh, k=3)
  assert precision > 0.9 and recall > 0.9
  precision, recall = sample_metrics.precision_recall(real, half, k=3)
  assert precision > 0.9  # every sample still lies on a real mode
  assert recall == pytest.approx(0.5, abs=0.08)


def test_frechet_distance_is_zero_for_identical_statistics():
  x = np.random.default_rng(0).normal(size=(500, 6))
  mu, cov = sample_metrics.gaussian_statistics(x)
  assert sample_metrics.frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_matches_closed_form_for_diagonal_gaussians():
  mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
  var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
  # For commuting (diagonal) covariances: ||mu1 - mu2||^2 + sum (sd1 - sd2)^2.
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
  got = sample_metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
  assert got == pytest.approx(expected, rel=1e-9)
  assert expected == pytest.approx(7.25 + 4.0 + 1.0)


def _copying_statistic(train, heldout, fake, num_cells=5):
  held_dist, _ = sample_metrics.nearest_neighbours(heldout, train)
  fake_dist, _ = sample_metrics.nearest_neighbours(fake, train)
  _, held_cell, fake_cell = sample_metrics.cell_assignments(train, heldout, fake,
                                                            num_cells=num_cells)
  return sample_metrics.data_copying_statistic(held_dist, held_cell, fake_dist, fake_cell,
                                               num_cells, tau=20 / len(fake))


def test_data_copying_statistic_flags_copies_and_passes_fresh_samples():
  rng = np.random.default_rng(0)
  train = rng.normal(size=(2000, 2))
  heldout = rng.normal(size=(500, 2))
  fresh = rng.normal(size=(500, 2))
  copies = train[rng.choice(len(train), 500)] + 1e-3 * rng.normal(size=(500, 2))
  c_copy, used = _copying_statistic(train, heldout, copies)
  assert used == 5 and c_copy < -10
  c_fresh, _ = _copying_statistic(train, heldout, fresh)
  assert abs(c_fresh) < 2.0


def test_nearest_neighbours_finds_exact_matches():
  ref = np.random.default_rng(0).normal(size=(50, 3))
  dist, index = sample_metrics.nearest_neighbours(ref[[7, 3, 41]], ref)
  np.testing.assert_array_equal(index, [7, 3, 41])
  np.testing.assert_allclose(dist, 0.0, atol=1e-3)


def test_quality_compare_scores_a_shifted_copy_by_its_squared_shift():
  """quality.compare: FD of a set against itself shifted by d is |d|^2 (equal covariances)."""
  from genjax.evals import quality  # pylint: disable=g-import-not-at-top
  real = _mixture(_modes(10), 600, seed=0)
  same = quality.compare(real, real.copy(), k=3)
  assert (same["precision"], same["recall"]) == (1.0, 1.0)
  assert same["frechet_distance"] == pytest.approx(0.0, abs=1e-6)
  shifted = quality.compare(real, real + np.array([3.0, 4.0]), k=3)
  assert shifted["frechet_distance"] == pytest.approx(25.0, rel=1e-6)
  assert (shifted["num_real"], shifted["num_fake"], shifted["feature_dims"]) == (600, 600, 2)
