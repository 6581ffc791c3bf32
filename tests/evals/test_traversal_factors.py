"""The traversal's factor labels: which ground-truth factor each code dimension follows."""
from __future__ import annotations

import numpy as np

from genjax.evals import traversal


def test_each_dimension_is_labelled_by_the_factor_it_copies():
  rng = np.random.default_rng(0)
  n = 4000
  factors = np.stack([rng.integers(0, 3, n), rng.integers(0, 5, n), rng.integers(0, 4, n)], 1)
  # z0 copies factor 2 and z1 factor 0 (a monotone map: the bins keep the values apart);
  # z2 is noise independent of every factor.
  z = np.stack([factors[:, 2] * 0.5 - 1.0, np.exp(factors[:, 0]), rng.standard_normal(n)], 1)
  k, nmi = traversal.factor_of_dims(z, factors)
  assert list(k[:2]) == [2, 0]
  # A copied factor: I(z; f) = H(f) exactly, so the normalised MI is 1 up to rounding.
  np.testing.assert_allclose(nmi[:2], 1.0, rtol=1e-12)
  # Independent noise: the plug-in MI is only its positive bias, (B - 1)(V - 1) / (2n) nats
  # for B = 20 bins and V values (Miller 1955), at most 19 * 4 / 8000 = 0.0095 nats; over
  # H(f) >= log 3 that is below 0.009. A margin of 3x covers the estimator's spread.
  assert nmi[2] < 3 * 19 * 4 / (2 * n) / np.log(3)


def test_a_constant_factor_scores_zero():
  z = np.arange(10.0)[:, None]
  factors = np.stack([np.zeros(10, int), np.arange(10) % 2], 1)
  k, nmi = traversal.factor_of_dims(z, factors)
  assert k[0] == 1 and 0 < nmi[0] <= 1
