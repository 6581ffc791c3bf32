"""Continues the GPU beta study's run directories for a fixed wall time, then evaluates them.

The study's six seed-0 members (benchmarks/gpu_all.py, part `beta`) are resumed as one
vectorised population toward the study's 300,000 steps; at the deadline SIGTERM makes the
runner checkpoint the step it reached. Then every member is evaluated at once, one process
each (held-out -ELBO and reconstruction on the GPU, the disentanglement metrics at the `cpu`
protocol on the host's cores), and each run directory (config, metrics, evals, latest
checkpoint) is packed into OUT/beta_vae_<member>.tar.gz so that a later session resumes it.

  # on the GPU machine, with the run directories carried in runs/gpu_beta:
  PATH=/opt/torch/.venv/bin:$PATH bash experiments/beta_vae_dsprites/continue_on_gpu.sh 300 170
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

import gpu_all  # pylint: disable=g-import-not-at-top,wrong-import-position

CONFIG = os.path.join(ROOT, "experiments/beta_vae_dsprites/config.py:full")
STUDY_STEPS = 300_000
SAVED_NUM_STEPS = 13_150  # what the first session planned: it fixed log and checkpoint intervals


def train(root: str, train_s: float) -> None:
  """Resumes every member under `root` as one population until `train_s` seconds pass."""
  from genjax.sweeps import launch, spec  # pylint: disable=g-import-not-at-top
  members = tuple(spec.Member(spec.member_name(o), o)
                  for o in ({"hparams.beta": b, "seed": 0} for b in gpu_all.BETAS))
  sweep = spec.Sweep(path=__file__, config=CONFIG, members=members, listed=members)
  overrides = dict(gpu_all._beta_overrides(SAVED_NUM_STEPS, smoke=False),  # pylint: disable=protected-access
                   **{"train.num_steps": STUDY_STEPS})
  signal.signal(signal.SIGTERM, lambda *_: None)  # only the runner's own handler may act
  guard = threading.Timer(train_s, lambda: os.kill(os.getpid(), signal.SIGTERM))
  guard.daemon = True
  guard.start()
  t0 = time.perf_counter()
  outcomes = launch.launch(sweep, root, "vectorized", overrides, population_mode="vmap")
  guard.cancel()
  for member, outcome in zip(members, outcomes):
    gpu_all.emit(bench="beta_continue", member=member.name, status=outcome.status,
                 reason=outcome.reason, wall_s=time.perf_counter() - t0,
                 **gpu_all._last_train_metrics(os.path.join(root, member.name)))  # pylint: disable=protected-access


def evaluate(root: str, eval_s: float) -> None:
  """One `genjax eval` process per member, all at once, each stopped after `eval_s`."""
  env = dict(os.environ, XLA_PYTHON_CLIENT_MEM_FRACTION="0.1", OMP_NUM_THREADS="2",
             PYTHONUNBUFFERED="1")
  procs = {}
  for name in sorted(os.listdir(root)):
    if os.path.isfile(os.path.join(root, name, "config.json")):
      cmd = [sys.executable, "-m", "genjax", "eval", f"--workdir={os.path.join(root, name)}",
             "--evals=elbo,recon,disentanglement",
             "--config.evals.disentanglement.protocol=cpu"]
      log = open(os.path.join(root, name, "eval_gpu.log"), "w")
      procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                      cwd=ROOT), log, time.perf_counter())
  deadline = time.perf_counter() + eval_s
  for name, (proc, log, t0) in procs.items():
    try:
      proc.wait(timeout=max(1.0, deadline - time.perf_counter()))
    except subprocess.TimeoutExpired:
      proc.kill()
      proc.wait()
    log.close()
    gpu_all.emit(bench="beta_eval", member=name, exit_code=proc.returncode,
                 wall_s=time.perf_counter() - t0)


def pack(root: str, out: str) -> None:
  """Each member's config, logs, evals and latest checkpoint -> OUT/beta_vae_<member>.tar.gz."""
  for name in sorted(os.listdir(root)):
    workdir = os.path.join(root, name)
    if not os.path.isfile(os.path.join(workdir, "config.json")):
      continue
    steps = sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit())
    path = os.path.join(out, f"beta_vae_{name.replace('=', '').replace('.', 'p')}.tar.gz")
    with tarfile.open(path, "w:gz") as tar:
      for item in ("config.json", "metrics.jsonl", "status.json", "population.json", "evals",
                   "eval_gpu.log", os.path.join("checkpoints", str(steps[-1]))):
        if os.path.exists(os.path.join(workdir, item)):
          tar.add(os.path.join(workdir, item), arcname=os.path.join(name, item))
    gpu_all.emit(bench="beta_pack", member=name, step=steps[-1],
                 tar_mib=os.path.getsize(path) / 2**20)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--root", default=os.path.join(ROOT, "runs/gpu_beta"))
  parser.add_argument("--out", default=os.environ.get("OUT", "/tmp/genjax_gpu_out"))
  parser.add_argument("--train_s", type=float, required=True)
  parser.add_argument("--eval_s", type=float, required=True)
  parser.add_argument("--part", choices=("train", "evaluate", "pack"), required=True)
  args = parser.parse_args()
  {"train": lambda: train(args.root, args.train_s),
   "evaluate": lambda: evaluate(args.root, args.eval_s),
   "pack": lambda: pack(args.root, args.out)}[args.part]()


if __name__ == "__main__":
  main()
