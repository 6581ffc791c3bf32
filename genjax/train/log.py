"""Where metrics go: metrics.jsonl (for sweeps), TensorBoard events, and a progress line."""
from __future__ import annotations

import json
import math
import os
import time

import jax
import numpy as np


class MetricsLog:
  """Appends one JSON object per logged step to metrics.jsonl and mirrors it to TensorBoard.

  Only process 0 writes. On resume, lines after the restored step are dropped first, so
  a resumed run's log equals the uninterrupted run's.
  """

  def __init__(self, workdir: str, resume_step: int | None = None):
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._writes = jax.process_index() == 0
    self._tb = None
    if not self._writes:
      return
    if resume_step is not None and os.path.exists(self.path):
      with open(self.path) as f:
        kept = [line for line in f if line.strip() and json.loads(line)["step"] <= resume_step]
      with open(self.path, "w") as f:
        f.writelines(kept)
    from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
    self._tb = SummaryWriter(os.path.join(workdir, "events"))

  def write(self, step: int, split: str, metrics: dict[str, float]) -> None:
    if not self._writes:
      return
    record = {"step": int(step), "split": split}
    record.update({k: _jsonable(v) for k, v in metrics.items()})
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    for name, value in metrics.items():
      if isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(value):
        self._tb.add_scalar(f"{split}/{name}", float(value), int(step))

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


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
