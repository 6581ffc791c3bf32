"""Time to the quickstart's first trained step, with a cold and a warm compilation cache.

  python benchmarks/first_step.py                 # the README's quickstart, 3 rounds
  python benchmarks/first_step.py --config=configs/vae.py:sprites --rounds 5

Each round launches the README's main command (`genjax train`, one step, evaluations and
figures off, a fresh run directory) twice as a user would: first with an empty
$GENJAX_CACHE (cold: every program compiles), then again with the cache the first launch
filled (warm: the persistent compilation cache of genjax/compile_cache.py serves the
compiled programs). It reports, per launch, the seconds from process start to the first
step's progress line (start-up, data, tracing, compiling, the step itself) and to the
process's exit (plus the checkpoint save and shutdown); medians over rounds. Prints JSON
lines: a header (machine, load average, versions), one line per launch, the medians.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
QUICKSTART = "configs/vae.py:sprites32"


def launch(config: str, cache: str, workdir: str) -> dict[str, float]:
  """One `genjax train` of one step; seconds to its first progress line and to its exit."""
  env = {k: v for k, v in os.environ.items()
         if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE"))}
  env.update(GENJAX_CACHE=cache, PYTHONUNBUFFERED="1")
  args = [sys.executable, "-m", "genjax", "train", f"--config={config}", f"--workdir={workdir}",
          "--config.train.num_steps=1", "--config.train.log_every=1",
          "--config.train.checkpoint_every=1", "--config.train.eval_every=0",
          "--config.train.figure_every=0"]
  start = time.perf_counter()
  proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
  first = None
  for line in proc.stdout:
    if first is None and line.startswith("step 1/"):
      first = time.perf_counter() - start
  _, err = proc.communicate()
  total = time.perf_counter() - start
  if proc.returncode != 0 or first is None:
    raise SystemExit(f"genjax train failed: {err[-2000:]}")
  return {"first_step_s": first, "exit_s": total}


def header() -> dict:
  import precision  # pylint: disable=g-import-not-at-top  # benchmarks/: imports jax
  return dict(kind="header", **precision.machine(), load_avg=os.getloadavg(),
              **precision.versions())


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default=QUICKSTART)
  parser.add_argument("--rounds", type=int, default=3)
  args = parser.parse_args()
  print(json.dumps(header()), flush=True)
  times = {"cold": [], "warm": []}
  for r in range(args.rounds):
    with tempfile.TemporaryDirectory() as tmp:
      cache = os.path.join(tmp, "cache")
      for kind in ("cold", "warm"):
        t = launch(args.config, cache, os.path.join(tmp, kind))
        times[kind].append(t)
        print(json.dumps(dict(kind=kind, round=r, **{k: round(v, 2) for k, v in t.items()})),
              flush=True)
  summary = {f"{kind}_{key}_median": round(statistics.median(t[key] for t in ts), 2)
             for kind, ts in times.items() for key in ("first_step_s", "exit_s")}
  print(json.dumps(dict(kind="median", config=args.config, rounds=args.rounds,
                        load_avg_end=os.getloadavg(), **summary)), flush=True)


if __name__ == "__main__":
  main()
