"""Data parallelism: a step on a 4-device CPU mesh equals the one-device step."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_four_device_step_equals_single_device_step_within_rounding():
  script = os.path.join(ROOT, "tests", "train", "four_device_step.py")
  out = subprocess.run([sys.executable, script, os.path.join(ROOT, "configs", "vae.py:smoke")],
                       cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert out.returncode == 0, out.stderr[-2000:]
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert result["devices"] == 4
  assert "data" in result["sharded"]
  assert result["slice_ok"]
  assert result["worst_over_bound"] <= 1.0, result
