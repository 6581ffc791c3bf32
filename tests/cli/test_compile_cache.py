"""The `genjax` command's persistent compilation cache: where it goes, what turns it off,
and that a run really writes its compiled programs there."""
from __future__ import annotations

import os
import subprocess
import sys

from genjax import compile_cache
from tests.conftest import ROOT


def test_the_cache_goes_under_genjax_cache_and_is_exported_to_subprocesses(tmp_path):
  environ = {"GENJAX_CACHE": str(tmp_path)}
  directory = compile_cache.enable(environ)
  assert directory == str(tmp_path / "jax_compilation")
  assert os.path.isdir(directory)
  assert environ["JAX_COMPILATION_CACHE_DIR"] == directory


def test_a_directory_chosen_for_jax_is_kept(tmp_path):
  environ = {"GENJAX_CACHE": str(tmp_path / "ours"), "JAX_COMPILATION_CACHE_DIR": "/elsewhere"}
  assert compile_cache.enable(environ) == "/elsewhere"
  assert environ["JAX_COMPILATION_CACHE_DIR"] == "/elsewhere"
  assert not (tmp_path / "ours").exists()


def test_it_can_be_turned_off(tmp_path):
  for off in ("0", "off", "False"):
    environ = {"GENJAX_CACHE": str(tmp_path), "GENJAX_COMPILATION_CACHE": off}
    assert compile_cache.enable(environ) is None
    assert "JAX_COMPILATION_CACHE_DIR" not in environ
  assert not (tmp_path / "jax_compilation").exists()


def test_an_unwritable_place_means_no_cache_not_an_error(tmp_path):
  blocker = tmp_path / "file"
  blocker.write_text("not a directory")
  environ = {"GENJAX_CACHE": str(blocker)}
  assert compile_cache.enable(environ) is None
  assert "JAX_COMPILATION_CACHE_DIR" not in environ


def test_a_train_writes_its_programs_to_the_cache(tmp_path):
  """Through the real command, from an environment that names no cache: the run's
  compiled programs land in $GENJAX_CACHE/jax_compilation."""
  env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
  env.update(JAX_PLATFORMS="cpu", GENJAX_CACHE=str(tmp_path / "cache"),
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
  proc = subprocess.run(
      [sys.executable, "-m", "genjax", "train", "--config=configs/vae.py:toy2d",
       f"--workdir={tmp_path / 'run'}", "--config.train.num_steps=2",
       "--config.train.steps_per_call=1", "--config.train.log_every=2",
       "--config.train.checkpoint_every=2", "--config.train.eval_every=0",
       "--config.train.figure_every=0"],
      cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  written = os.listdir(tmp_path / "cache" / "jax_compilation")
  assert any("multistep" in name for name in written), written
