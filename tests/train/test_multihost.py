"""Multi-host training: 2 processes on 127.0.0.1 train as 1 process does, and resume in 1.

The processes join through the environment variables that a cluster launch script sets
(JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID), so the real runner's
multi-host path runs: each process feeds its half of every global batch, Orbax writes one
checkpoint from both processes into one directory, and evaluators and figures gather
across processes. CPU collectives between processes go through gloo (JAX's default).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np

from tests.conftest import F32_UNIT_ROUNDOFF, REL_STEP, ROOT, read_metrics

WORKER = os.path.join(ROOT, "tests", "train", "multihost_worker.py")
CONFIG = os.path.join(ROOT, "configs", "vae.py:toy2d")
STEPS, MORE_STEPS = 4, 6
# Variables that would make a process join some other job (e.g. tests run inside SLURM).
_JOB_VARIABLES = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID",
                  "GENJAX_DISTRIBUTED", "TPU_WORKER_HOSTNAMES")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _env(cache: str, **extra: str) -> dict[str, str]:
  env = {k: v for k, v in os.environ.items()
         if k not in _JOB_VARIABLES and not k.startswith("SLURM_")}
  # A compilation cache shared by the runs: the 1-process checks compile the same programs.
  return dict(env, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=cache,
              JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", **extra)


def _run(jobs: list[tuple[list[str], dict]], log_prefix: str, timeout: int = 240) -> list[str]:
  """Runs the worker commands concurrently; returns their outputs; asserts they succeeded."""
  procs, outputs = [], []
  for i, (args, env) in enumerate(jobs):
    out = open(f"{log_prefix}_{i}.log", "w+")
    procs.append((subprocess.Popen([sys.executable, WORKER, *args], cwd=ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, text=True), out))
  try:
    for proc, _ in procs:
      proc.wait(timeout=timeout)  # a process whose peer died would wait for it: bounded
  finally:
    for proc, out in procs:
      if proc.poll() is None:
        proc.kill()
        proc.wait()
      out.seek(0)
      outputs.append(out.read())
      out.close()
  for (proc, _), text in zip(procs, outputs):
    assert proc.returncode == 0, text[-3000:]
  return outputs


def _params(out: str, stage: str, process: int = 0) -> dict[str, np.ndarray]:
  with np.load(os.path.join(out, f"{stage}_{process}.npz")) as f:
    return dict(f)


def _assert_params_close(a: dict, b: dict, out: str, steps: int, momentum: float = 0.9) -> None:
  """a and b took `steps` SGD steps (momentum optim.b1) in programs that sum differently:
  equal up to the summation-rounding bound of conftest.assert_within_summation_rounding."""
  start, first = _params(out, "start"), _params(out, "first")
  assert sorted(a) == sorted(b)
  for k in a:
    if not k.startswith("__"):
      m1 = float(np.max(np.abs(first[k] - start[k])))
      np.testing.assert_allclose(a[k], b[k], rtol=4 * F32_UNIT_ROUNDOFF,
                                 atol=steps * REL_STEP * m1 / (1 - momentum), err_msg=k)


def test_two_processes_train_like_one_and_their_checkpoint_resumes_in_one(tmp_path):
  multi, ref, out = str(tmp_path / "multi"), str(tmp_path / "ref"), str(tmp_path / "out")
  os.makedirs(out)
  coordinator, cache = f"127.0.0.1:{_free_port()}", str(tmp_path / "jax_cache")
  _run([(["train", CONFIG, multi, str(STEPS), out],
         _env(cache, JAX_COORDINATOR_ADDRESS=coordinator, JAX_NUM_PROCESSES="2", JAX_PROCESS_ID=str(i)))
        for i in range(2)], str(tmp_path / "train"))
  # Evaluation and figures ran across the 2 processes (and process 0 wrote them).
  with open(os.path.join(multi, "evals", "elbo.json")) as f:
    assert json.load(f)["step"] == STEPS
  assert os.path.exists(os.path.join(multi, "figures", "samples.png"))
  assert sorted(os.listdir(os.path.join(multi, "checkpoints"))) == ["2", "4"]

  (check_log,) = _run([(["check", CONFIG, multi, ref, str(STEPS), str(MORE_STEPS), out], _env(cache))],
                      str(tmp_path / "check"))

  # (a) both processes end with the same params, equal to a 1-process run's up to rounding
  # (same global batches, same keys; only the order of the cross-device sums differs).
  multi_0, multi_1, single = (_params(out, "multi", 0), _params(out, "multi", 1),
                              _params(out, "single"))
  assert (int(multi_0["__processes__"]), int(single["__processes__"])) == (2, 1)
  assert int(multi_0["__step__"]) == int(single["__step__"]) == STEPS
  for k in multi_0:
    np.testing.assert_array_equal(multi_0[k], multi_1[k], err_msg=k)
  _assert_params_close(multi_0, single, out, STEPS)
  # The train log was written once (by process 0), with the 1-process run's numbers.
  multi_log, ref_log = read_metrics(multi)[:STEPS // 2], read_metrics(ref)[:STEPS // 2]
  assert [r["step"] for r in multi_log] == [r["step"] for r in ref_log] == [2, 4]
  for m, r in zip(multi_log, ref_log):
    np.testing.assert_allclose(m["loss"], r["loss"], rtol=1e-4)  # forward sums: rounding ~ K * u

  # (b) the 2-process checkpoint restores exactly in 1 process, and training resumes from it
  # to the same params as the 1-process run continued to the same step.
  restored = _params(out, "restored")
  assert int(restored["__processes__"]) == 1 and int(restored["__step__"]) == STEPS
  for k in multi_0:
    if not k.startswith("__"):
      np.testing.assert_array_equal(restored[k], multi_0[k], err_msg=k)
  assert f"resuming {multi} from step {STEPS}" in check_log
  resumed, single_more = _params(out, "resumed"), _params(out, "single_more")
  assert int(resumed["__step__"]) == int(single_more["__step__"]) == MORE_STEPS
  _assert_params_close(resumed, single_more, out, MORE_STEPS)
