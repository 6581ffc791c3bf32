"""The README's Python API example runs verbatim in a fresh interpreter."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.conftest import ROOT


def readme_python_example() -> str:
  """The fenced ```python block of the README's 'The Python API' section."""
  with open(os.path.join(ROOT, "README.md")) as f:
    text = f.read()
  section = text.split("## The Python API", 1)[1].split("\n## ", 1)[0]
  blocks = re.findall(r"```python\n(.*?)```", section, re.S)
  assert len(blocks) == 1, "the README's Python API section should hold one python block"
  return blocks[0]


def test_readme_python_example_runs_in_a_fresh_process(tmp_path):
  # The example reads configs/ relative to the repository root and writes runs/: give it a
  # root of its own whose configs/ is the repository's.
  os.symlink(os.path.join(ROOT, "configs"), tmp_path / "configs")
  env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
  done = subprocess.run([sys.executable, "-c", readme_python_example()], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  assert "exact log p(x): False" in done.stdout and "nelbo_nats" in done.stdout
  assert os.path.isfile(tmp_path / "runs" / "api_quick" / "evals" / "elbo.json")
