"""One sweep member trained in this process, its outcome recorded in its status.json.

Shared by the local launcher and the SLURM array tasks (`slurm_task.py`), so neither
imports the other.
"""
from __future__ import annotations

import dataclasses
import json
import os

from genjax import config as gconfig
from genjax.errors import GenjaxError

STATUS_FILE = "status.json"


@dataclasses.dataclass
class Outcome:
  name: str
  status: str  # 'done', 'skipped' (finished earlier), 'stopped', 'failed', 'submitted'
  reason: str = ""


def train_member(config_spec: str, overrides: dict, workdir: str, name: str) -> Outcome:
  """Loads and trains one member, recording its status; a GenjaxError fails it alone."""
  from genjax.train import runner  # pylint: disable=g-import-not-at-top  # jax: lazily
  try:
    config = gconfig.load_config(config_spec, overrides)
    state = runner.train_and_evaluate(config, workdir)
  except GenjaxError as e:
    return failed(workdir, name, str(e))
  return finished(workdir, name, int(state.step), config.train.num_steps)


def finished(workdir: str, name: str, step: int, num_steps: int) -> Outcome:
  """Done if it reached num_steps; else it was stopped (a signal) and resumes on relaunch."""
  if step >= num_steps:
    return done(workdir, name, step)
  write_json(os.path.join(workdir, STATUS_FILE), {"status": "stopped", "step": step})
  return Outcome(name, "stopped", f"stopped at step {step} of {num_steps}")


def done(workdir: str, name: str, step: int) -> Outcome:
  write_json(os.path.join(workdir, STATUS_FILE), {"status": "done", "step": step})
  return Outcome(name, "done")


def failed(workdir: str, name: str, reason: str, step: int | None = None) -> Outcome:
  os.makedirs(workdir, exist_ok=True)
  write_json(os.path.join(workdir, STATUS_FILE),
             {"status": "failed", "step": step, "reason": reason})
  return Outcome(name, "failed", reason)


def write_json(path: str, payload: dict) -> None:
  tmp = f"{path}.{os.getpid()}.tmp"  # several launchers may share a sweep root
  with open(tmp, "w") as f:
    json.dump(payload, f, indent=2, default=list)
  os.replace(tmp, path)
