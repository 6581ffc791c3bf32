"""Shared fixtures: tiny configs from the real config files, and a helper to run the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from genjax import config as gconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(spec: str, **overrides):
  """configs/<spec> with dotted overrides given as keyword args (a__b=1 -> a.b=1)."""
  return gconfig.load_config(os.path.join(ROOT, "configs", spec),
                             {k.replace("__", "."): v for k, v in overrides.items()})


def straight_and_resumed_runs(spec: str, root, total: int, stop: int, **overrides):
  """(straight, resumed) final states of configs/<spec>: one run trained to `total` steps in
  root/a, one stopped at `stop` in root/b and restarted there to `total`."""
  from genjax.train import runner  # pylint: disable=g-import-not-at-top  # jax: lazily
  run = lambda steps, name: runner.train_and_evaluate(
      load(spec, train__num_steps=steps, **overrides), os.path.join(str(root), name))
  straight = run(total, "a")
  run(stop, "b")
  return straight, run(total, "b")


def assert_same_params(a, b, **tol) -> None:
  """Two train states' parameters are equal: bit for bit, or within `tol` (rtol, atol)."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  for x, y in zip(jax.tree.leaves(jax.device_get(a.params)), jax.tree.leaves(jax.device_get(b.params))):
    if tol:
      np.testing.assert_allclose(x, y, **tol)
    else:
      np.testing.assert_array_equal(x, y)


def read_metrics(workdir: str, split: str = "train") -> list[dict]:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [r for r in map(json.loads, f) if r["split"] == split]


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
  """Runs `python -m genjax ARGS` from the repo root; returns the finished process."""
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  return subprocess.run([sys.executable, "-m", "genjax", *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def smoke():
  """configs/vae.py:smoke, optionally overridden: smoke(train__num_steps=10)."""
  return lambda spec="vae.py:smoke", **kw: load(spec, **kw)
