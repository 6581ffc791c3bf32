"""End to end: train the smoke VAE, run the new evaluators on it, and write the run's report."""
from __future__ import annotations

import json
import math
import os

import ml_collections
import pytest

from genjax import evals as gevals
from genjax.errors import CheckpointError, ConfigError
from genjax.evals import report
from genjax.train import runner, session
from tests.conftest import load, run_cli

# Its module fixtures train runs: pytest-xdist keeps the module on one worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_report")

# Small settings: each evaluator costs a compile and a few batches of the 16x16 smoke VAE.
EVALS = {
    "likelihood": dict(type="likelihood", k=16, num_examples=64),
    "outliers": dict(type="outliers", num_examples=64),  # sprites model: digits are the OOD set
    "outliers_noise": dict(type="outliers", ood="noise", num_examples=64, k=4),
    "memorisation": dict(type="memorisation", num_samples=64, num_train=500, num_cells=4),
    "quality": dict(type="quality", num_samples=128),
}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
  """A 20-step smoke run with every new evaluator run on its checkpoint: (workdir, results)."""
  workdir = str(tmp_path_factory.mktemp("run"))
  config = load("vae.py:smoke", train__eval_every=0, train__figure_every=0,
                train__checkpoint_every=20, train__log_every=10)
  config.evals = ml_collections.ConfigDict()
  runner.train_and_evaluate(config, workdir)
  _, ctx = session.load_trained(workdir)
  cfgs = {name: ml_collections.ConfigDict(cfg) for name, cfg in EVALS.items()}
  return workdir, gevals.run_evals(ctx, gevals.resolve(list(cfgs), ml_collections.ConfigDict(cfgs)))


def test_every_evaluator_returns_finite_numbers_and_writes_its_record(evaluated):
  workdir, results = evaluated
  for name, numbers in results.items():
    assert all(math.isfinite(float(v)) for v in numbers.values()), (name, numbers)
    with open(os.path.join(workdir, "evals", f"{name}.json")) as f:
      assert json.load(f)["metrics"] == pytest.approx(numbers)
  lik = results["likelihood"]
  assert lik["iwae_nats"] <= lik["nelbo_nats"] and lik["proper_likelihood"]  # binary sprites
  assert lik["iwae_bits_per_dim"] == pytest.approx(lik["iwae_nats"] / (256 * math.log(2)))
  assert 0.0 <= results["outliers"]["auroc"] <= 1.0 and results["outliers"]["num_ood"] == 64
  assert results["memorisation"]["num_train_searched"] == 500
  quality = results["quality"]
  assert 0.0 <= quality["precision"] <= 1.0 and not quality["in_judge_features"]  # raw pixels
  for figure in ("outlier_scores", "memorisation_distances", "nearest_neighbours"):
    assert os.path.getsize(os.path.join(workdir, "figures", f"{figure}.png")) > 0


def test_report_holds_config_training_metrics_every_eval_and_every_figure(evaluated):
  workdir, _ = evaluated
  path = report.write_report(workdir)
  assert path == os.path.join(workdir, "report.md")
  with open(path) as f:
    text = f.read()
  assert "| model.family | vae |" in text and "Latest logged step: 20" in text
  for name in EVALS:
    assert f"### {name}\n" in text
  assert "| auroc |" in text and "| iwae_nats |" in text
  for figure in os.listdir(os.path.join(workdir, "figures")):
    assert f"](figures/{figure})" in text


def test_report_of_a_missing_run_is_a_one_line_error(tmp_path):
  with pytest.raises(CheckpointError, match="no run in") as error:
    report.write_report(str(tmp_path / "nowhere"))
  assert "\n" not in str(error.value)


def test_outliers_refuses_an_ood_set_the_model_was_trained_on(evaluated):
  workdir, _ = evaluated
  _, ctx = session.load_trained(workdir)
  with pytest.raises(ConfigError, match="trained on 'sprites'"):
    gevals.EVALUATORS["outliers"](ctx, ml_collections.ConfigDict({"ood": "sprites"}))


def test_eval_options_are_set_for_one_evaluation_only(evaluated):
  """`genjax eval --config.evals.NAME.OPTION=v` changes the protocol, never the run."""
  workdir, _ = evaluated
  result = run_cli("eval", f"--workdir={workdir}", "--evals=outliers_small",
                   "--config.evals.outliers_small.type=outliers",
                   "--config.evals.outliers_small.num_examples=64",
                   "--config.evals.outliers_small.ood=noise")
  assert result.returncode == 0, result.stderr
  with open(os.path.join(workdir, "evals", "outliers_small.json")) as f:
    record = json.load(f)
  assert record["settings"] == {"type": "outliers", "num_examples": 64, "ood": "noise"}
  with open(os.path.join(workdir, "config.json")) as f:
    assert "outliers_small" not in json.load(f)["evals"]
  refused = run_cli("eval", f"--workdir={workdir}", "--config.data.batch_size=3")
  assert refused.returncode == 2
  assert refused.stderr.strip() == ("genjax: error: config.data.batch_size cannot change after "
                                    "training; only config.evals.* (and the sampling flags) may be "
                                    "set for a trained run")
