"""Shared fixtures: tiny configs from the real config files, and a helper to run the CLI."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from genjax import config as gconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The compilation cache this process created (None where it was inherited).
_OWNED_CACHE_DIR = None


def pytest_configure(config):
  """One persistent compilation cache for the whole test run, in-process and in every
  subprocess (the CLI and multi-process tests inherit the environment): most tests compile
  the same few tiny programs, and XLA's compile, not the steps, dominates their time. A
  fresh directory per run, so a CI run on a clean clone behaves like any other. An
  executable read from the cache is the one the compiler would have built: no number moves."""
  del config
  global _OWNED_CACHE_DIR
  if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _OWNED_CACHE_DIR = tempfile.mkdtemp(prefix="genjax_test_jax_cache_")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWNED_CACHE_DIR
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
  # Compiling is most of the suite's CPU time: the tests compile thousands of small programs
  # and run each a few steps. Two XLA:CPU settings that make the compiler cheaper and leave
  # what a program computes alone (only float rounding could move, and no assertion may
  # depend on it); users and benchmarks compile with XLA's defaults:
  # - no backend (LLVM) optimisation passes: a fifth of the suite's CPU time;
  # - the classic fusion emitter instead of the MLIR fusion emitters: ~30 % less CPU per
  #   compile (53 -> 37 ms for a one-op program, 310 -> 217 ms for an MLP's init and
  #   gradient), ~20 % less for a VAE/GAN/runner test subset.
  flags = os.environ.get("XLA_FLAGS", "")
  for flag in ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false"):
    if flag.split("=")[0] not in flags:
      flags = f"{flags} {flag}".strip()
  os.environ["XLA_FLAGS"] = flags
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
  if "jax" in sys.modules:  # imported before this hook: its flags already read the environment
    import jax  # pylint: disable=g-import-not-at-top
    jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
  """Only the process that made the cache removes it: pytest-xdist's workers inherit the
  directory from the controller and share it, and it must outlive every one of them."""
  del config
  if _OWNED_CACHE_DIR is not None:
    os.environ.pop("JAX_COMPILATION_CACHE_DIR", None)
    shutil.rmtree(_OWNED_CACHE_DIR, ignore_errors=True)


def load(spec: str, **overrides):
  """configs/<spec> with dotted overrides given as keyword args (a__b=1 -> a.b=1), checked
  with its family's rules as the runner checks it."""
  from genjax import models  # pylint: disable=g-import-not-at-top  # jax: lazily
  return gconfig.load_config(os.path.join(ROOT, "configs", spec),
                             {k.replace("__", "."): v for k, v in overrides.items()},
                             models.config_rules)


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


# Two float32 programs that sum the same terms in another order (a vmapped population, a
# batch split over devices or hosts, another CPU's dot kernels) agree only up to rounding: a
# sum of K terms moves by at most about K * u of the terms' magnitudes (u = 2^-24, the unit
# roundoff). The longest reductions in the tests' nets have K <= 256 terms (K * u = 1.5e-5);
# with a margin for cancellation, one optimiser step of two such programs may differ by
# REL_STEP of that step's own movement.
F32_UNIT_ROUNDOFF = 2.0 ** -24
REL_STEP = 1e-4


def assert_within_summation_rounding(a, b, start, first, steps: int, momentum: float = 0.0):
  """Train states a and b took `steps` steps from `start` in programs that sum differently.

  `first` is one step from `start` (of either program): its movement sets, per parameter
  leaf, the scale m1 of one step. Each step may then differ by REL_STEP * m1 / (1 - momentum)
  (a momentum of b1 carries up to 1 / (1 - b1) gradients into a step), and with plain SGD at
  a small learning rate these differences add up rather than grow, so after n steps the
  bound is n times that, plus 4 ulp of the value for the final additions. Adam is not
  covered beyond its first step: dividing by sqrt(v) amplifies a rounding difference in a
  near-zero gradient into a whole step (runs on AVX2 and AVX-512 machines drift apart by
  6 % after 40 steps), so multi-step comparisons use SGD or the same program.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  get = lambda s: jax.tree_util.tree_flatten_with_path(jax.device_get(s.params))[0]
  for (path, x), (_, y), (_, x0), (_, x1) in zip(get(a), get(b), get(start), get(first)):
    m1 = float(np.max(np.abs(np.asarray(x1) - np.asarray(x0))))
    atol = steps * REL_STEP * m1 / (1 - momentum)
    np.testing.assert_allclose(x, y, rtol=4 * F32_UNIT_ROUNDOFF, atol=atol,
                               err_msg=f"{jax.tree_util.keystr(path)} after {steps} steps")


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
