"""SIGTERM (cluster preemption) saves a checkpoint at the current step and exits cleanly."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.conftest import ROOT, read_metrics


def test_sigterm_saves_the_current_step_and_the_run_resumes_from_it(tmp_path):
  workdir = tmp_path / "run"
  args = [sys.executable, "-m", "genjax", "train", "--config=configs/vae.py:smoke",
          f"--workdir={workdir}", "--config.train.num_steps=1000000",
          "--config.train.log_every=5", "--config.train.checkpoint_every=100000",
          "--config.train.eval_every=0", "--config.train.figure_every=0"]
  proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=dict(os.environ, JAX_PLATFORMS="cpu"))
  deadline = time.time() + 240
  while time.time() < deadline:
    if (workdir / "metrics.jsonl").exists() and len(read_metrics(str(workdir))) >= 2:
      break
    time.sleep(0.2)
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=120)
  assert proc.returncode == 0, err[-2000:]
  assert "stopped by signal at step" in out
  saved = [int(s) for s in os.listdir(workdir / "checkpoints") if s.isdigit()]
  assert len(saved) == 1 and saved[0] >= 10
  step = saved[0]
  resume = subprocess.run(args[:6] + [f"--config.train.num_steps={step + 5}",
                                      "--config.train.log_every=5",
                                      "--config.train.checkpoint_every=100000",
                                      "--config.train.eval_every=0", "--config.train.figure_every=0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=240)
  assert resume.returncode == 0, resume.stderr[-2000:]
  assert f"resuming {workdir} from step {step}" in resume.stdout
