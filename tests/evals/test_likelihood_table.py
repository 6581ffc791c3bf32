"""experiments/likelihood_table/table.py: unit conversions and the table, on hand-made evals."""
import importlib.util
import json
import math
import os
import sys

import numpy as np
import pytest
from scipy import stats

_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "experiments", "likelihood_table",
                     "table.py")
_spec = importlib.util.spec_from_file_location("likelihood_table", _PATH)
table = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = table  # dataclasses look their module up there
_spec.loader.exec_module(table)


def test_bits_per_dim_divides_nats_by_dims_ln2():
  # 3 ln 2 nats over 2 dims is 1.5 bits/dim
  assert table.bits_per_dim(3 * math.log(2), 2) == pytest.approx(1.5)


def test_format_cell_gives_nats_stderr_and_bits_per_dim():
  # -4 / (2 ln 2) = -2.88539
  assert table.format_cell(table.Estimate(-4.0, 0.01), 2) == "-4.000 ± 0.010 (-2.885)"
  assert table.format_cell(table.Estimate(64 * math.log(2)), 64) == "44.361 (1.000)"
  assert table.format_cell(None, 2) == "—"


def test_log_binomial_coefficients_sum_over_pixels():
  # C(16, 0) = 1, C(16, 8) = 12870, C(16, 16) = 1
  got = table.log_binomial_coefficients(np.array([[0, 8, 16], [8, 8, 0]]))
  np.testing.assert_allclose(got, [math.log(12870), 2 * math.log(12870)])


def test_binomial_nelbo_is_the_binomial_pmf_of_the_counts():
  # one pixel, no KL: 16 * CE(c / 16, p) - log C(16, c) = -log Binomial(c | 16, p)
  p = 0.3
  for c in (0, 5, 16):
    x = c / 16
    ce = -(x * math.log(p) + (1 - x) * math.log(1 - p))
    mean_log_binom = float(table.log_binomial_coefficients(np.array([[c]]))[0])
    assert table.binomial_nelbo(ce, 0.0, mean_log_binom) == pytest.approx(
        -stats.binom.logpmf(c, 16, p))


def _write_metrics(root, cell, name, metrics):
  os.makedirs(os.path.join(root, cell, "evals"), exist_ok=True)
  with open(os.path.join(root, cell, "evals", f"{name}.json"), "w") as f:
    json.dump({"metrics": metrics}, f)


def test_table_places_each_cell_and_flags_different_held_out_counts(tmp_path):
  root = str(tmp_path)
  _write_metrics(root, "vae_ring8", "likelihood", dict(
      nelbo_nats=-0.5, iwae_nats=-1.0, iwae_stderr_nats=0.03, exact_nll_nats=-4.3, k=1000,
      num_examples=2000))
  _write_metrics(root, "diffusion_ring8", "likelihood", dict(
      bound_nats=-4.2, bound_stderr_nats=0.02, exact_nll_nats=-4.3, num_examples=1000))
  text = table.build(root, baseline=False)
  ring8 = next(line for line in text.splitlines() if line.startswith("| ring8"))
  assert "-4.300 (-3.102)" in ring8  # exact: -4.3 / (2 ln 2)
  assert "-1.000 ± 0.030 (-0.721)" in ring8
  assert "-4.200 ± 0.020 (-3.030)" in ring8
  assert "VAE -IWAE (k = 1000)" in text
  assert "WARNING ring8: the cells scored 2000 and 1000 examples" in text
