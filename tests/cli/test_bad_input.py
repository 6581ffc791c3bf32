"""Bad input: one line on stderr naming the problem and the fix, exit 2, nothing touched."""
from __future__ import annotations

import os

import pytest

from tests.conftest import run_cli

SMOKE = "--config=configs/vae.py:smoke"


def _assert_one_line_error(proc, *fragments):
  assert proc.returncode == 2, (proc.returncode, proc.stderr[-1500:])
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  errors = [l for l in lines if l.startswith("genjax: error:")]
  assert len(errors) == 1, proc.stderr
  assert "Traceback" not in proc.stderr
  for fragment in fragments:
    assert fragment in errors[0], errors[0]


@pytest.mark.parametrize("args,fragments", [
    ([SMOKE, "--config.hparams.bta=4"], ["config.hparams.bta", "did you mean 'config.hparams.beta'"]),
    ([SMOKE, "--config.data.batch_size=abc"], ["wrong type", "expected int"]),
    ([SMOKE, "--config.hparams.beta=-1"], ["hparams.beta", "out of range"]),
    ([SMOKE, "--config.data.batch_size=0"], ["data.batch_size", "positive"]),
    ([SMOKE, "--config.model.latent_dim=0"], ["model.latent_dim", "positive"]),
    (["--config=configs/nope.py"], ["'configs/nope.py' not found"]),
    (["--config=configs/vae.py:sprits"], ["unknown config variant 'sprits'", "did you mean 'sprites'"]),
    ([SMOKE, "--config.data.name=sprits"], ["sprits", "sprites"]),
    ([SMOKE, "--config.model.family=vea"], ["unknown model family 'vea'", "did you mean 'vae'"]),
    ([SMOKE, "--config.data.name=tfds:not_here", "--config.data.data_dir=/tmp/genjax_no_data"],
     ["not_here", "/tmp/genjax_no_data"]),
    ([SMOKE, "--wrokdir=x"], ["wrokdir"]),
])
def test_train_bad_input_is_one_line_and_exit_2(tmp_path, args, fragments):
  workdir = tmp_path / "run"
  proc = run_cli("train", *args, f"--workdir={workdir}")
  _assert_one_line_error(proc, *fragments)
  assert not (workdir / "checkpoints").exists()


def test_restart_with_a_different_config_names_the_keys_and_touches_nothing(tmp_path):
  workdir = tmp_path / "run"
  ok = run_cli("train", SMOKE, f"--workdir={workdir}", "--config.train.num_steps=5",
               "--config.train.checkpoint_every=5", "--config.train.log_every=5")
  assert ok.returncode == 0, ok.stderr[-2000:]
  before = {p: os.path.getmtime(os.path.join(dp, p)) for dp, _, fs in os.walk(workdir) for p in fs}
  proc = run_cli("train", SMOKE, f"--workdir={workdir}", "--config.train.num_steps=5",
                 "--config.train.checkpoint_every=5", "--config.train.log_every=5",
                 "--config.model.latent_dim=3")
  _assert_one_line_error(proc, "model.latent_dim (4 -> 3)", "new --workdir")
  after = {p: os.path.getmtime(os.path.join(dp, p)) for dp, _, fs in os.walk(workdir) for p in fs}
  assert before == after
  # The trained run answers eval and sample; a bad evaluator name is one line too.
  ev = run_cli("eval", f"--workdir={workdir}", "--evals=elbo,recon")
  assert ev.returncode == 0 and "nelbo_nats=" in ev.stdout, ev.stderr[-2000:]
  _assert_one_line_error(run_cli("eval", f"--workdir={workdir}", "--evals=elbow"),
                         "unknown evaluator 'elbow'", "did you mean 'elbo'")
  sample = run_cli("sample", f"--workdir={workdir}", "--num=9")
  assert sample.returncode == 0, sample.stderr[-2000:]
  assert (workdir / "figures" / "sample_n9_seed0.png").exists()
  assert (workdir / "samples_n9_seed0.npz").exists()


def test_eval_of_a_missing_run_is_one_line(tmp_path):
  _assert_one_line_error(run_cli("eval", f"--workdir={tmp_path / 'none'}"), "no run in")


def test_unknown_command_is_one_line():
  _assert_one_line_error(run_cli("trian"), "unknown command 'trian'")
