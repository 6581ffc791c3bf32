"""One live `genjax train` per run directory: a second is refused in one line naming the
first; a first killed with SIGKILL leaves no stale lock, and the next run resumes."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

from tests.conftest import ROOT, run_cli

TRAIN = ["train", "--config=configs/vae.py:smoke", "--config.train.log_every=5",
         "--config.train.checkpoint_every=5", "--config.train.eval_every=0",
         "--config.train.figure_every=0"]


def _wait_for(condition, proc, seconds: float = 240) -> None:
  deadline = time.time() + seconds
  while not condition():
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    assert time.time() < deadline, "timed out"
    time.sleep(0.1)


def _holder(workdir) -> dict:
  try:
    return json.loads((workdir / ".lock").read_text() or "{}")
  except (OSError, ValueError):
    return {}


def _steps(workdir) -> list[int]:
  folder = workdir / "checkpoints"
  return sorted(int(s) for s in os.listdir(folder) if s.isdigit()) if folder.is_dir() else []


def test_a_second_train_is_refused_and_a_killed_ones_lock_is_not_stuck(tmp_path):
  workdir = tmp_path / "run"
  first = subprocess.Popen(
      [sys.executable, "-m", "genjax", *TRAIN, f"--workdir={workdir}",
       "--config.train.num_steps=1000000"],
      cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
      env=dict(os.environ, JAX_PLATFORMS="cpu"))
  try:
    _wait_for(lambda: _holder(workdir).get("pid") == first.pid and _steps(workdir), first)
    with open(workdir / "config.json") as f:
      config_before = f.read()

    second = run_cli(*TRAIN, f"--workdir={workdir}", "--config.train.num_steps=1000000")
    assert second.returncode == 2, second.stderr[-3000:]
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in second.stderr, second.stderr[-3000:]
    assert lines[0].startswith(f"genjax: error: {workdir} is in use by another genjax train")
    assert f"pid {first.pid} on {socket.gethostname()}" in lines[0]
    assert (workdir / "config.json").read_text() == config_before
    assert first.poll() is None  # the first is undisturbed

    # eval only reads: it is not refused while the train runs.
    evaluated = run_cli("eval", f"--workdir={workdir}", "--evals=recon")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert "recon (step " in evaluated.stdout
  finally:
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=60)

  last = _steps(workdir)[-1]
  third = run_cli(*TRAIN, f"--workdir={workdir}", f"--config.train.num_steps={last + 5}")
  assert third.returncode == 0, third.stderr[-3000:]
  assert f"resuming {workdir} from step {last}" in third.stdout
  assert _holder(workdir)["pid"] != first.pid  # the third wrote itself in as the holder
