"""The runner: loss falls, resume is exact, divergence stops cleanly, damaged checkpoints."""
from __future__ import annotations

import json
import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest

from genjax import models
from genjax.errors import CheckpointError, TrainingDiverged
from genjax.train import runner
from tests.conftest import assert_same_params, load, read_metrics, straight_and_resumed_runs


@pytest.mark.parametrize("spec,steps", [
    ("vae.py:smoke", 60), ("vae.py:digits", 300), ("vae.py:toy2d", 500),
    ("autoencoder.py:smoke", 60)])
def test_loss_falls_on_each_embedded_dataset(tmp_path, spec, steps):
  log_every = 20 if steps < 100 else 50
  config = load(spec, train__num_steps=steps, train__log_every=log_every,
                train__steps_per_call=10, train__checkpoint_every=steps, train__eval_every=0, train__figure_every=0)
  runner.train_and_evaluate(config, str(tmp_path))
  losses = [r["loss"] for r in read_metrics(str(tmp_path))]
  assert len(losses) == steps // log_every
  assert losses[-1] < 0.9 * losses[0] if losses[0] > 0 else losses[-1] < losses[0] - 0.5


def test_resume_matches_uninterrupted_run(tmp_path):
  """Stop at step 10, restart to 20: same parameters and the same logged metrics, exactly."""
  common = dict(train__log_every=5, train__checkpoint_every=5, train__eval_every=10,
                train__figure_every=0)
  straight, resumed = straight_and_resumed_runs("vae.py:smoke", tmp_path, 20, 10, **common)
  assert_same_params(straight, resumed)
  assert int(resumed.step) == 20
  for split in ("train", "eval/elbo"):
    assert read_metrics(str(tmp_path / "a"), split) == read_metrics(str(tmp_path / "b"), split)


def test_resume_between_logs_and_with_scanned_steps_is_exact(tmp_path):
  """A checkpoint in mid logging window restores the window's running sums too."""
  common = dict(train__log_every=8, train__checkpoint_every=4, train__steps_per_call=2,
                train__eval_every=0, train__figure_every=0)
  straight, resumed = straight_and_resumed_runs("vae.py:smoke", tmp_path, 16, 12, **common)
  assert_same_params(straight, resumed)
  # The stopped run also logged its off-grid final step 12; every on-grid line is identical.
  on_grid = [r for r in read_metrics(str(tmp_path / "b")) if r["step"] % 8 == 0]
  assert read_metrics(str(tmp_path / "a")) == on_grid
  assert [r["step"] for r in read_metrics(str(tmp_path / "b"))] == [8, 12, 16]


def test_divergence_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
  original = models.vae.VAE.train_step

  def failing_step(self, state, batch, rng, hp):
    state, metrics = original(self, state, batch, rng, hp)
    return state, dict(metrics, rec=jnp.where(state.step >= 7, jnp.nan, metrics["rec"]))

  monkeypatch.setattr(models.vae.VAE, "train_step", failing_step)
  config = load("vae.py:smoke", train__num_steps=20, train__log_every=5,
                train__checkpoint_every=5, train__eval_every=0, train__figure_every=0)
  with pytest.raises(TrainingDiverged, match=r"'rec' became NaN/Inf at step 7.*step 5\) is intact"):
    runner.train_and_evaluate(config, str(tmp_path))
  assert sorted(os.listdir(tmp_path / "checkpoints")) == ["5"]
  monkeypatch.setattr(models.vae.VAE, "train_step", original)
  state = runner.train_and_evaluate(load("vae.py:smoke", train__num_steps=5, train__log_every=5,
                                         train__checkpoint_every=5, train__eval_every=0,
                                         train__figure_every=0), str(tmp_path))
  assert int(state.step) == 5  # restored from the intact checkpoint: nothing left to train


def test_restart_with_another_config_is_refused_and_changes_nothing(tmp_path):
  config = load("vae.py:smoke", train__num_steps=5, train__checkpoint_every=5, train__log_every=5)
  runner.train_and_evaluate(config, str(tmp_path))
  before = (tmp_path / "config.json").read_text()
  with pytest.raises(CheckpointError, match=r"hparams\.beta \(4\.0 -> 2\.0\)"):
    runner.train_and_evaluate(load("vae.py:smoke", hparams__beta=2.0), str(tmp_path))
  assert (tmp_path / "config.json").read_text() == before
  assert os.listdir(tmp_path / "checkpoints") == ["5"]


def test_unreadable_latest_checkpoint_falls_back_to_previous_one(tmp_path, capsys):
  common = dict(train__log_every=5, train__checkpoint_every=5, train__eval_every=0,
                train__figure_every=0)
  straight = runner.train_and_evaluate(load("vae.py:smoke", train__num_steps=15, **common),
                                       str(tmp_path / "a"))
  runner.train_and_evaluate(load("vae.py:smoke", train__num_steps=10, **common), str(tmp_path / "b"))
  state_dir = tmp_path / "b" / "checkpoints" / "10" / "state"
  for name in os.listdir(state_dir):  # damage the newest step's arrays
    path = state_dir / name
    shutil.rmtree(path) if path.is_dir() else path.unlink()
  resumed = runner.train_and_evaluate(load("vae.py:smoke", train__num_steps=15, **common),
                                      str(tmp_path / "b"))
  assert "checkpoint step 10 is unreadable" in capsys.readouterr().out
  assert (tmp_path / "b" / "checkpoints_unreadable" / "10").exists()  # set aside, not deleted
  assert_same_params(straight, resumed)


def test_run_directory_holds_every_artifact(tmp_path):
  config = load("vae.py:smoke", train__num_steps=10)
  runner.train_and_evaluate(config, str(tmp_path))
  assert {"config.json", "checkpoints", "metrics.jsonl", "events", "figures", "evals"} <= set(
      os.listdir(tmp_path))
  assert {"samples.png", "reconstructions.png", "traversal.png"} <= set(
      os.listdir(tmp_path / "figures"))
  elbo = json.loads((tmp_path / "evals" / "elbo.json").read_text())
  assert elbo["step"] == 10 and elbo["metrics"]["nelbo_nats"] > 0
  assert elbo["metrics"]["bits_per_dim"] == pytest.approx(
      elbo["metrics"]["nelbo_nats"] / (16 * 16 * np.log(2)))
