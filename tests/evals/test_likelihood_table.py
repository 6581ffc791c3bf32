"""experiments/likelihood_table/table.py: unit conversions and the table, on hand-made evals."""
import importlib.util
import json
import math
import os
import sys

import pytest

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


def _write_config(root, cell, model):
  os.makedirs(os.path.join(root, cell), exist_ok=True)
  with open(os.path.join(root, cell, "config.json"), "w") as f:
    json.dump({"data": {"name": "digits"}, "model": model}, f)


def test_digits_row_is_the_cells_own_bounds_on_the_counts(tmp_path):
  root = str(tmp_path)
  _write_metrics(root, "vae_digits", "likelihood", dict(
      nelbo_nats=103.0, nelbo_stderr_nats=1.5, iwae_nats=93.0, iwae_stderr_nats=1.2, k=1000,
      num_examples=297, proper_likelihood=True))
  _write_config(root, "vae_digits", {"likelihood": "binomial", "levels": 16})
  _write_metrics(root, "diffusion_digits", "likelihood", dict(
      bound_nats=128.0, bound_stderr_nats=0.8, num_examples=297))
  _write_config(root, "diffusion_digits", {"levels": 16})
  text = table.build(root, baseline=False)
  digits = next(line for line in text.splitlines() if line.startswith("| digits"))
  # 103 / (64 ln 2) = 2.32186; 93: 2.09644; 128: 2.88539
  assert digits == ("| digits (297) | — | 103.000 ± 1.500 (2.322) | 93.000 ± 1.200 (2.096) | "
                    "128.000 ± 0.800 (2.885) | — |")
  assert "WARNING" not in text


def test_digits_cells_off_the_17_counts_are_flagged(tmp_path):
  root = str(tmp_path)
  _write_metrics(root, "vae_digits", "likelihood", dict(
      nelbo_nats=30.0, iwae_nats=29.0, iwae_stderr_nats=0.5, k=1000, num_examples=297,
      proper_likelihood=False))
  _write_config(root, "vae_digits", {"likelihood": "bernoulli"})
  _write_metrics(root, "diffusion_digits", "likelihood", dict(
      bound_nats=203.0, bound_stderr_nats=1.2, num_examples=297))
  _write_config(root, "diffusion_digits", {})  # model.levels absent: 255 (8-bit)
  text = table.build(root, baseline=False)
  assert "WARNING digits: vae_digits has model.levels=255, not 16" in text
  assert "WARNING digits: diffusion_digits has model.levels=255, not 16" in text
  assert "WARNING digits: the VAE's decoder is no probability of the counts" in text
