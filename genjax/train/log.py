"""Where metrics go: metrics.jsonl (for sweeps), TensorBoard and wandb (through
`tracking.Tracker`), and a progress line."""
from __future__ import annotations

import json
import math
import os
import sys
import time

import jax
import numpy as np

from genjax.train import tracking


class MetricsLog:
  """Appends one JSON object per logged step to metrics.jsonl and mirrors its numbers to
  TensorBoard (and wandb, when `config` turns it on), with the run's figures.

  Only process 0 writes. On resume, lines after the restored step are dropped first, so
  a resumed run's log equals the uninterrupted run's; so is a line torn by a kill mid-write.
  The trackers are told both steps (see tracking.Tracker): TensorBoard hides its events
  after the restored step, and wandb, which cannot take a step twice, keeps its records up
  to the last step logged before the restart.
  """

  def __init__(self, workdir: str, resume_step: int | None = None, config=None):
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._writes = jax.process_index() == 0
    self._tracker = None
    if not self._writes:
      return
    logged_through = None  # the last step logged before this (re)start
    if resume_step is not None and os.path.exists(self.path):
      lines = decoded_lines(self.path)
      logged_through = max((record["step"] for _, record in lines), default=None)
      kept = [line for line, record in lines if record["step"] <= resume_step]
      tmp = self.path + ".tmp"
      with open(tmp, "w") as f:
        f.writelines(kept)
      os.replace(tmp, self.path)
    self._tracker = tracking.Tracker(workdir, config, resume_step=resume_step,
                                     logged_through=logged_through)

  def write(self, step: int, split: str, metrics: dict[str, float]) -> None:
    if not self._writes:
      return
    record = {"step": int(step), "split": split}
    record.update({k: _jsonable(v) for k, v in metrics.items()})
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    self._tracker.scalars(step, split, metrics)

  def figures(self, step: int) -> list[str]:
    """Logs the figures written since the last call as images at `step` (their paths)."""
    return self._tracker.figures(step) if self._writes else []

  def close(self) -> None:
    if self._tracker is not None:
      self._tracker.close()
      self._tracker = None


def read_metrics(path: str) -> list[dict]:
  """The records of a metrics.jsonl (none if it is missing), torn lines dropped with a warning."""
  return [record for _, record in decoded_lines(path)] if os.path.isfile(path) else []


def decoded_lines(path: str) -> list[tuple[str, dict]]:
  """(line, record) of each line of a metrics.jsonl that decodes to a record with a step.

  A line that does not (the last one, torn by a run killed mid-write) is dropped with a
  warning on stderr: the others still count, and a resume rewrites the log without it.
  """
  out = []
  with open(path, errors="replace") as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        record = json.loads(line)
        if not isinstance(record, dict) or not isinstance(record.get("step"), int):
          raise ValueError("not a record with a step")
      except ValueError:
        print(f"genjax: warning: {path} line {number} is torn or not a record ({line[:40]!r}); "
              "skipped it", file=sys.stderr, flush=True)
        continue
      out.append((line if line.endswith("\n") else line + "\n", record))
  return out


def _jsonable(value):
  value = np.asarray(value).item() if np.ndim(value) == 0 else np.asarray(value).tolist()
  if isinstance(value, float) and not math.isfinite(value):
    return str(value)
  return value


class Progress:
  """Prints `step s/N | metrics | steps/s, examples/s, ETA`, timing only the steps it saw."""

  def __init__(self, num_steps: int, batch_size: int, start_step: int):
    self.num_steps, self.batch_size = num_steps, batch_size
    self._last_step, self._last_time = start_step, time.perf_counter()

  def line(self, step: int, metrics: dict[str, float]) -> str:
    now = time.perf_counter()
    rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    eta = (self.num_steps - step) / rate if rate > 0 else float("inf")
    shown = " ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items()))
    return (f"step {step}/{self.num_steps} | {shown} | {rate:.1f} steps/s "
            f"{rate * self.batch_size:.0f} ex/s | ETA {_duration(eta)}")


def _duration(seconds: float) -> str:
  if not math.isfinite(seconds):
    return "?"
  m, s = divmod(int(seconds), 60)
  h, m = divmod(m, 60)
  return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
