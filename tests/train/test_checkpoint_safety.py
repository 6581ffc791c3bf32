"""No lost checkpoints, through the real CLI: a config or shape mismatch is refused with
nothing moved, only real damage (a flipped byte, a checksum that disagrees) sets a step
aside, the save at a step comes before its evaluations, a full disk stops the run in one
line with the earlier steps intact, and a torn metrics.jsonl line is dropped."""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, load, run_cli

# Its module fixtures train runs: pytest-xdist keeps the module on one worker (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("test_checkpoint_safety")

TRAIN = ["train", "--config=configs/vae.py:smoke", "--config.train.log_every=5",
         "--config.train.checkpoint_every=10", "--config.train.eval_every=0",
         "--config.train.figure_every=0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """A smoke VAE run trained 20 steps: checkpoints 10 and 20, metrics for steps 5..20."""
  workdir = tmp_path_factory.mktemp("trained") / "run"
  done = run_cli(*TRAIN, f"--workdir={workdir}", "--config.train.num_steps=20")
  assert done.returncode == 0, done.stderr[-2000:]
  return workdir


@pytest.fixture
def run(trained, tmp_path):
  """A fresh copy of the trained run to damage."""
  copy = tmp_path / "run"
  shutil.copytree(trained, copy)
  return copy


def digests(root) -> dict[str, str]:
  """{relative path: sha256} of every file under root: the listing and the contents."""
  out = {}
  for folder, _, files in os.walk(root):
    for name in files:
      path = os.path.join(folder, name)
      with open(path, "rb") as f:
        out[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
  return out


def assert_one_error(done: subprocess.CompletedProcess, *phrases: str) -> str:
  assert done.returncode == 2, done.stderr[-3000:]
  assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
  lines = [line for line in done.stderr.splitlines() if line.strip()]
  assert len(lines) == 1 and lines[0].startswith("genjax: error: "), done.stderr[-3000:]
  for phrase in phrases:
    assert phrase in lines[0], lines[0]
  return lines[0]


def meta(workdir, step: int) -> dict:
  with open(os.path.join(workdir, "checkpoints", str(step), "meta", "metadata")) as f:
    return json.load(f)


def metrics_lines(workdir) -> list[str]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return f.read().splitlines()


# --------------------------------------------------------------------------------------
# A mismatch is refused, nothing moved
# --------------------------------------------------------------------------------------

def test_a_changed_latent_size_is_refused_in_one_line_and_nothing_moves(run):
  from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
  path = run / "config.json"
  config = gconfig.from_json(path.read_text())
  config.model.latent_dim = 6
  path.write_text(gconfig.to_json(config))  # the user edits config.json and passes the override
  before = digests(run)
  done = run_cli(*TRAIN, f"--workdir={run}", "--config.train.num_steps=20",
                 "--config.model.latent_dim=6")
  assert_one_error(done, "checkpoint step 20", "different config", "nothing was changed")
  assert digests(run) == before  # checkpoints, metrics.jsonl and events untouched
  assert not (run / "checkpoints_unreadable").exists()


def test_eval_with_another_familys_config_is_refused_in_one_line(run):
  from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
  (run / "config.json").write_text(gconfig.to_json(load("diffusion.py:smoke")))
  before = digests(run)
  done = run_cli("eval", f"--workdir={run}")
  assert_one_error(done, "checkpoint step 20", "different config")
  assert digests(run) == before


def test_arrays_of_other_shapes_under_the_same_fingerprint_are_refused_untouched(tmp_path):
  """A step whose config matches but whose arrays do not (the model code changed) is not
  damage: Orbax's saved shapes are compared before any array is read."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from genjax.errors import CheckpointError  # pylint: disable=g-import-not-at-top
  from genjax.train.checkpoint import Checkpointer  # pylint: disable=g-import-not-at-top
  saver = Checkpointer(str(tmp_path), keep=3, fingerprint="f")
  saver.save(1, {"w": jnp.arange(3.0)}, {"n": jnp.zeros((), jnp.int32)}, {"pos": 1})
  saver.close()
  before = digests(tmp_path)
  reader = Checkpointer(str(tmp_path), keep=3, fingerprint="f")
  wanted = {"w": jax.ShapeDtypeStruct((4,), jnp.float32)}
  with pytest.raises(CheckpointError, match=r"other shapes.*w \(saved \[3\] float32, now \[4\]"):
    reader.restore_latest(wanted, {"n": jax.ShapeDtypeStruct((), jnp.int32)})
  step, state, _, data = reader.restore_latest(
      {"w": jax.ShapeDtypeStruct((3,), jnp.float32)}, {"n": jax.ShapeDtypeStruct((), jnp.int32)})
  reader.close()
  assert (step, data, state["w"].tolist()) == (1, {"pos": 1}, [0.0, 1.0, 2.0])
  assert digests(tmp_path) == before


# --------------------------------------------------------------------------------------
# Damage is set aside, the previous step used
# --------------------------------------------------------------------------------------

def test_a_flipped_byte_is_damage_and_the_resumed_run_equals_the_uninterrupted_one(run):
  original_meta, original_log = meta(run, 20), metrics_lines(run)
  chunks = glob.glob(str(run / "checkpoints" / "20" / "state" / "**" / "d" / "*"), recursive=True)
  target = max(chunks, key=os.path.getsize)  # the largest array chunk file Orbax wrote
  with open(target, "r+b") as f:
    middle = os.path.getsize(target) // 2
    f.seek(middle)
    byte = f.read(1)[0]
    f.seek(middle)
    f.write(bytes([byte ^ 0x01]))
  with open(run / "metrics.jsonl", "a") as f:  # and a kill mid-write tore the log's last line
    f.write('{"step": 25, "split": "tr')
  done = run_cli(*TRAIN, f"--workdir={run}", "--config.train.num_steps=20")
  assert done.returncode == 0, done.stderr[-3000:]
  assert "Traceback" not in done.stderr + done.stdout
  assert "checkpoint step 20 is unreadable" in done.stdout, done.stdout[-2000:]
  assert f"resuming {run} from step 10" in done.stdout
  assert "metrics.jsonl line 5 is torn" in done.stderr
  assert sorted(os.listdir(run / "checkpoints_unreadable")) == ["20"]
  # Steps 10 -> 20 retrained: the same arrays (checksums) and the same log, bit for bit.
  assert meta(run, 20)["checksums"] == original_meta["checksums"]
  assert metrics_lines(run) == original_log


def test_a_recorded_checksum_that_disagrees_is_damage_and_eval_uses_the_previous_step(run):
  """genjax eval may run beside a train: it skips the damaged step and moves nothing."""
  recorded = meta(run, 20)
  path = next(iter(recorded["checksums"]["state"]))
  recorded["checksums"]["state"][path] = "0" * 32
  (run / "checkpoints" / "20" / "meta" / "metadata").write_text(json.dumps(recorded))
  before = digests(run / "checkpoints")
  done = run_cli("eval", f"--workdir={run}", "--evals=recon")
  assert done.returncode == 0, done.stderr[-3000:]
  assert f"state leaf '{path}' read back other bytes than were saved" in done.stdout
  assert "recon (step 10):" in done.stdout
  assert digests(run / "checkpoints") == before
  assert not (run / "checkpoints_unreadable").exists()


# --------------------------------------------------------------------------------------
# Save before evaluating; a failed save stops the run
# --------------------------------------------------------------------------------------

def test_an_evaluator_failing_at_a_save_step_leaves_that_steps_checkpoint(tmp_path):
  workdir = tmp_path / "run"
  workdir.mkdir()
  (workdir / "evals").write_text("a file where the evaluators' folder goes")
  done = run_cli(*TRAIN[:-2], f"--workdir={workdir}", "--config.train.num_steps=20",
                 "--config.train.eval_every=10", "--config.train.figure_every=0")
  assert done.returncode != 0  # the evaluator could not write evals/recon.json at step 10
  assert sorted(os.listdir(workdir / "checkpoints")) == ["10"]
  assert meta(workdir, 10)["step"] == 10


def test_an_eval_below_one_batch_is_refused_before_training(tmp_path):
  workdir = tmp_path / "run"
  done = run_cli("train", "--config=configs/diffusion.py:smoke", f"--workdir={workdir}",
                 "--config.evals.nll.num_examples=10")
  assert_one_error(done, "config.evals.nll.num_examples=10", "data.eval_batch_size=64")
  assert not workdir.exists()


def _can_mount() -> bool:
  return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount") is not None


def test_a_full_disk_stops_the_run_in_one_line_with_earlier_checkpoints_intact(tmp_path):
  """checkpoints/ is a small tmpfs (as root; unwritable by chmod otherwise), filled up once
  the first step is on it: the next save fails, the run stops, a rerun resumes."""
  workdir = tmp_path / "run"
  checkpoints = workdir / "checkpoints"
  checkpoints.mkdir(parents=True)
  mounted = False
  if _can_mount():
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(checkpoints)],
                             capture_output=True).returncode == 0
  if not mounted and os.geteuid() == 0:
    pytest.skip("running as root without mount: no way to make a directory unwritable")
  try:
    args = [sys.executable, "-m", "genjax", *TRAIN, f"--workdir={workdir}",
            "--config.train.num_steps=1000000"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, JAX_PLATFORMS="cpu"))
    deadline = time.time() + 240
    while not (checkpoints / "10").is_dir() and time.time() < deadline and proc.poll() is None:
      time.sleep(0.05)
    if mounted:
      # Unbuffered: every write reaches the filesystem or raises, and closing flushes nothing
      # (a buffered file would raise ENOSPC again when it is closed).
      with open(checkpoints / "filler", "wb", buffering=0) as f:
        try:
          while True:
            f.write(b"\0" * (1 << 16))
        except OSError:
          pass
    else:
      os.chmod(checkpoints, 0o555)
    out, err = proc.communicate(timeout=240)
    line = assert_one_error(subprocess.CompletedProcess(args, proc.returncode, out, err),
                            "saving checkpoint step", "failed", "rerun the same command")
    assert "earlier checkpoints (latest: step" in line
    kept = sorted(int(s) for s in os.listdir(checkpoints) if s.isdigit())
    assert kept and kept[-1] >= 10
    if mounted:
      os.remove(checkpoints / "filler")
    else:
      os.chmod(checkpoints, 0o755)
    resumed = run_cli(*TRAIN, f"--workdir={workdir}", f"--config.train.num_steps={kept[-1] + 5}")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resuming {workdir} from step {kept[-1]}" in resumed.stdout
    assert "unreadable" not in resumed.stdout
  finally:
    if mounted:
      subprocess.run(["umount", "-l", str(checkpoints)], check=False)


# --------------------------------------------------------------------------------------
# Torn log lines
# --------------------------------------------------------------------------------------

def test_reports_drop_a_torn_metrics_line_with_a_warning(run):
  with open(run / "metrics.jsonl", "a") as f:
    f.write('{"step": 25, "split": "train", "loss": 1.')
  done = run_cli("report", f"--workdir={run}")
  assert done.returncode == 0, done.stderr[-3000:]
  assert "metrics.jsonl line 5 is torn" in done.stderr and "Traceback" not in done.stderr
  assert "Latest logged step: 20" in (run / "report.md").read_text()
  from genjax.sweeps.report import _last_train_metrics  # pylint: disable=g-import-not-at-top
  assert _last_train_metrics(str(run))["step"] == 20
