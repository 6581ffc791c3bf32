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
