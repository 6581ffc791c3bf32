"""Experiment tracking: a run's scalars and figures in wandb (offline) and TensorBoard, a sweep's
members grouped, a reopened run continuing its wandb run, and the missing extra refused.

wandb runs here in offline mode only (config and WANDB_MODE), with every wandb directory in
the test's tmp: nothing is sent anywhere.
"""
from __future__ import annotations

import glob
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import types

import numpy as np
import pytest
from PIL import Image

from genjax.errors import ConfigError
from genjax.train import tracking
from tests.conftest import ROOT, load, read_metrics, run_cli
from tests.train import wandb_records

# One xdist worker runs this module: the offline-tracked run is trained once, not once per worker.
pytestmark = pytest.mark.xdist_group("test_tracking")

wandb = pytest.importorskip("wandb")

PROJECT = "genjax-test"


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
  """WANDB_* variables that keep wandb offline and inside a tmp folder, for this module."""
  home = tmp_path_factory.mktemp("wandb_home")
  env = {"WANDB_MODE": "offline", "WANDB_DIR": str(home), "WANDB_CONFIG_DIR": str(home),
         "WANDB_CACHE_DIR": str(home), "WANDB_DATA_DIR": str(home), "WANDB_SILENT": "true"}
  with pytest.MonkeyPatch.context() as mp:
    for key, value in env.items():
      mp.setenv(key, value)
    yield home


def _offline_runs(home) -> list[str]:
  return sorted(glob.glob(os.path.join(str(home), "wandb", "offline-run-*", "run-*.wandb")))


@pytest.fixture(scope="module")
def trained(offline_env, tmp_path_factory):
  """10 steps of the smoke VAE through the CLI with wandb on (offline): log and checkpoint
  every 5 steps, evaluate and draw figures at step 10."""
  workdir = str(tmp_path_factory.mktemp("tracked") / "run")
  proc = run_cli("train", "--config=configs/vae.py:smoke", f"--workdir={workdir}",
                 "--config.train.num_steps=10", "--config.train.checkpoint_every=5",
                 f"--config.train.wandb.project={PROJECT}", "--config.train.wandb.mode=offline",
                 "--config.train.wandb.tags=('smoke',)")
  assert proc.returncode == 0, proc.stderr[-2000:]
  runs = _offline_runs(offline_env)
  assert len(runs) == 1, runs
  return workdir, runs[0]


def test_the_wandb_run_holds_the_logged_scalars_an_eval_and_the_figures(trained):
  workdir, run_file = trained
  rows = wandb_records.history(run_file)
  logged = {}  # (step, key) -> value, over every history row
  for row in rows:
    logged.update({(row["_step"], k): v for k, v in row.items() if not k.startswith("_")})
  train = read_metrics(workdir)
  assert [r["step"] for r in train] == [5, 10]
  for record in train:  # the same numbers, bit for bit (both are the float the runner wrote)
    for name in ("loss", "kl", "rec", "nelbo", "lr"):
      assert logged[(record["step"], f"train/{name}")] == record[name], (record["step"], name)
  (elbo,) = read_metrics(workdir, "eval/elbo")
  assert logged[(10, "eval/elbo/nelbo_nats")] == elbo["nelbo_nats"]
  images = {k[1].rsplit("/", 1)[0] for k, v in logged.items()
            if k[1].endswith("/_type") and v == "image-file" and k[0] == 10}
  assert {"figures/samples", "figures/reconstructions", "figures/traversal"} <= images
  media = glob.glob(os.path.join(os.path.dirname(run_file), "files", "media", "images",
                                 "figures", "samples_10_*.png"))
  assert len(media) == 1
  run = wandb_records.run_record(run_file)
  assert (run.project, list(run.tags), run.display_name) == (PROJECT, ["smoke"], "run")
  with open(os.path.join(workdir, tracking.ID_FILE)) as f:
    assert json.load(f)["id"] == run.run_id  # what a resume continues


def _events(path: str):
  """The Event protos of a TensorBoard event file (TFRecord framing: u64 length, u32 crc,
  data, u32 crc), parsed with the protobufs tensorboardX ships."""
  from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
  with open(path, "rb") as f:
    data = f.read()
  pos, out = 0, []
  while pos + 12 <= len(data):
    (length,) = struct.unpack("<Q", data[pos:pos + 8])
    event = event_pb2.Event()
    event.ParseFromString(data[pos + 12:pos + 12 + length])
    out.append(event)
    pos += 12 + length + 4
  return out


def test_tensorboard_gets_each_figure_as_an_image_beside_the_scalars(trained):
  workdir, _ = trained
  values = {}
  for path in glob.glob(os.path.join(workdir, "events", "events.out.tfevents.*")):
    for event in _events(path):
      for value in event.summary.value:
        values[(event.step, value.tag)] = value
  assert values[(5, "train/loss")].simple_value == pytest.approx(read_metrics(workdir)[0]["loss"])
  image = values[(10, "figures/samples")].image
  on_disk = Image.open(os.path.join(workdir, "figures", "samples.png"))
  decoded = Image.open(io.BytesIO(image.encoded_image_string))
  assert (image.height, image.width) == (on_disk.height, on_disk.width)
  assert np.array_equal(np.asarray(decoded.convert("RGB")), np.asarray(on_disk.convert("RGB")))


@pytest.mark.parametrize("wandb_before", [True, False])
def test_a_resume_behind_the_last_logged_step_repeats_nothing_in_either_tracker(
    trained, offline_env, tmp_path, wandb_before):
  """A crash after step 10 was logged but before its checkpoint: the resume from step 5
  logs step 10 again. TensorBoard gets a purge from step 6 (it shows the new events only);
  wandb, which refuses a step below its last, is not sent 10 again, only what is new; but
  a wandb run first opened by the resume (wandb was off before) gets every step it logs."""
  workdir = str(tmp_path / "run")
  shutil.copytree(trained[0], workdir)
  shutil.rmtree(os.path.join(workdir, "checkpoints", "10"))  # the lost checkpoint
  if not wandb_before:
    os.remove(os.path.join(workdir, tracking.ID_FILE))
  before = set(_offline_runs(offline_env))
  proc = run_cli("train", "--config=configs/vae.py:smoke", f"--workdir={workdir}",
                 "--config.train.num_steps=15", "--config.train.checkpoint_every=5",
                 f"--config.train.wandb.project={PROJECT}", "--config.train.wandb.mode=offline",
                 "--config.train.wandb.tags=('smoke',)")
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "resuming" in proc.stdout and "from step 5" in proc.stdout
  assert [r["step"] for r in read_metrics(workdir)] == [5, 10, 15]
  (run_file,) = sorted(set(_offline_runs(offline_env)) - before)
  resumed_steps = {row["_step"] for row in wandb_records.history(run_file)}
  assert resumed_steps == ({15} if wandb_before else {10, 15}), resumed_steps
  newest = sorted(glob.glob(os.path.join(workdir, "events", "events.out.tfevents.*")))[-1]
  events = _events(newest)
  assert any(e.step == 6 and e.session_log.status == e.session_log.START for e in events)
  assert {e.step for e in events for v in e.summary.value if v.tag == "train/loss"} == {10, 15}


def test_sweep_members_are_grouped_by_the_sweep_and_a_reopened_run_keeps_its_id(
    offline_env, tmp_path, monkeypatch):
  """The local launcher's layout (root/sweep.json, root/<member>): each member's wandb run
  is in the group named after the sweep and named after the member; training is replaced
  by opening and closing the member's tracker, which is all the grouping depends on."""
  from genjax.sweeps import launch, spec  # pylint: disable=g-import-not-at-top
  from genjax.train import runner  # pylint: disable=g-import-not-at-top
  sweep_file = tmp_path / "sweep.py"
  sweep_file.write_text(f"CONFIG = {os.path.join(ROOT, 'configs', 'vae.py:smoke')!r}\n"
                        "def get_sweep():\n  return [{'hparams.beta': b} for b in (1.0, 4.0)]\n")

  def open_and_close(config, workdir):
    tracking.Tracker(workdir, config).close()
    return types.SimpleNamespace(step=config.train.num_steps)
  monkeypatch.setattr(runner, "train_and_evaluate", open_and_close)
  before = set(_offline_runs(offline_env))
  root = tmp_path / "study"
  outcomes = launch.launch(spec.load_sweep(str(sweep_file)), str(root), "local",
                           {"train.wandb.project": PROJECT, "train.wandb.mode": "offline"})
  assert [o.status for o in outcomes] == ["done", "done"]
  wandb.teardown()  # finish() leaves the writing to wandb's service: wait for it
  runs = [wandb_records.run_record(p) for p in sorted(set(_offline_runs(offline_env)) - before)]
  assert sorted((r.run_group, r.display_name) for r in runs) == [
      ("study", "beta=1"), ("study", "beta=4")]
  # Reopened (a resumed member): the id kept in its directory, the same wandb run.
  member = str(root / "beta=4")
  with open(os.path.join(member, tracking.ID_FILE)) as f:
    kept = json.load(f)["id"]
  tracking.Tracker(member, load("vae.py:smoke", train__wandb__project=PROJECT,
                                train__wandb__mode="offline")).close()
  wandb.teardown()
  newest = sorted(set(_offline_runs(offline_env)) - before, key=os.path.getmtime)[-1]
  assert wandb_records.run_record(newest).run_id == kept
  assert sorted(r.run_id for r in runs).count(kept) == 1


def test_wandb_without_its_extra_is_one_line_exit_2_and_nothing_written(tmp_path):
  workdir = tmp_path / "run"
  code = ("import runpy, sys; sys.modules['wandb'] = None; "
          f"sys.argv = ['genjax', 'train', '--config=configs/vae.py:smoke', '--workdir={workdir}', "
          f"'--config.train.wandb.project={PROJECT}']; "
          "runpy.run_module('genjax', run_name='__main__')")
  proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                        timeout=120, env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert proc.returncode == 2, proc.stderr[-1500:]
  assert proc.stderr.strip() == (
      f"genjax: error: config.train.wandb.project='{PROJECT}' logs to wandb, which is not "
      "installed; pip install 'genjax[wandb]', or set config.train.wandb.project='' to train "
      "without it")
  assert not workdir.exists()


def test_the_runner_refuses_it_too_before_touching_the_run_directory(tmp_path, monkeypatch):
  """The Python API and the sweeps reach the runner without the CLI's early check."""
  from genjax.train import runner  # pylint: disable=g-import-not-at-top
  monkeypatch.setitem(sys.modules, "wandb", None)
  with pytest.raises(ConfigError, match=r"pip install 'genjax\[wandb\]'"):
    runner.train_and_evaluate(load("vae.py:smoke", train__wandb__project=PROJECT),
                              str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()
  # Off (no project, or mode 'disabled'), nothing is asked of wandb.
  tracking.check_available(load("vae.py:smoke"))
  tracking.check_available(load("vae.py:smoke", train__wandb__project=PROJECT,
                                train__wandb__mode="disabled"))
