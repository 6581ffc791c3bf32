"""Speed of the probability-flow ODE: likelihood seconds per example, sampling seconds per step count.

  python benchmarks/diffusion_ode.py --workdir=runs/diff_ring8          # a trained run
  python benchmarks/diffusion_ode.py --config=configs/diffusion.py:digits_ode   # untrained
  python benchmarks/diffusion_ode.py --workdir=runs/diff_ring8 --rounds 3 --steps 10,20

1. Likelihood: the family's `ode_nll` (exact trace on toy2d, Hutchinson otherwise; the
   model's tolerances) jitted on one eval batch; per round one call; prints the median
   seconds per example and the solver's mean accepted steps (an adaptive solver's cost
   depends on the parameters: a trained run's number is the one to quote).
2. Sampling: the family's compiled `sample` with each sampler and step count (as
   `genjax sample --sampler=S --steps=K` sets them) on --num samples, the samplers taking
   turns within a round; prints median seconds per batch, per sample and per network call.
Medians over --rounds after one compiling call each; JSON lines (benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# Run as a script, time genjax with the allocator the `genjax` command runs with (one
# re-exec; genjax/malloc_env.py); GENJAX_MALLOC=system keeps glibc's defaults.
from genjax import malloc_env  # noqa: E402

if __name__ == "__main__":
  malloc_env.reexec_with_tunables()

import jax  # noqa: E402

from genjax import config as gconfig  # noqa: E402
from genjax import data as gdata  # noqa: E402
from genjax.models import build_family  # noqa: E402
from genjax.models import diffusion_fast as fast  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step import emit  # noqa: E402


def _load(args):
  """(family, state, hp, held-out source, where it came from)."""
  if args.workdir:
    from genjax.train import session  # pylint: disable=g-import-not-at-top
    _, ctx = session.load_trained(args.workdir)
    return ctx.family, ctx.state, ctx.hp, ctx.test, args.workdir
  config = gconfig.load_config(args.config)
  source = gdata.load(config.data, "test")
  family = build_family(config, source.info)
  hp = gconfig.hparams_as_arrays(config)
  batch = source.get_batch(np.arange(config.data.batch_size))
  return family, family.init(jax.random.key(0), batch, hp), hp, source, args.config


def _median_seconds(fn, rounds: int) -> float:
  jax.block_until_ready(fn())  # compile
  times = []
  for _ in range(rounds):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", default="")
  parser.add_argument("--config", default="configs/diffusion.py:ring8")
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--batch", type=int, default=256, help="examples per likelihood call")
  parser.add_argument("--num", type=int, default=1000, help="samples per sampling call")
  parser.add_argument("--steps", default="10,20,50")
  parser.add_argument("--samplers", default="ddim,euler,heun,dpmpp2m")
  args = parser.parse_args()
  family, state, hp, source, origin = _load(args)
  emit(bench="setup", origin=origin, backend=jax.default_backend(),
       devices=jax.device_count(), x_shape=list(family.x_shape),
       glibc_tunables=os.environ.get("GLIBC_TUNABLES", ""))

  batch = {k: v for k, v in source.get_batch(np.arange(args.batch)).items() if k == "x"}
  nll_fn = jax.jit(family.ode_nll)
  out = nll_fn(state, batch, jax.random.key(0))
  seconds = _median_seconds(lambda: nll_fn(state, batch, jax.random.key(0)), args.rounds)
  emit(bench="ode_likelihood", batch=args.batch, median_s=seconds,
       median_ms_per_example=1e3 * seconds / args.batch,
       solver_steps_mean=float(np.mean(out["steps"])), nll_nats=float(np.mean(out["nll"])))

  runs = [(s, int(k)) for s in args.samplers.split(",") for k in args.steps.split(",")]
  runs.append(("ode", 0))
  for sampler, steps in runs:
    fam = dataclasses.replace(family, sampler=sampler, sample_steps=max(steps, 1))
    sample = jax.jit(fam.sample, static_argnums=(2,))
    seconds = _median_seconds(lambda: sample(state, jax.random.key(1), args.num, hp),
                              args.rounds)
    calls = (fast.network_calls(sampler, steps) if sampler in fast.FAST_SAMPLERS
             else steps or float("nan"))
    emit(bench="sample", sampler=sampler, steps=steps, network_calls=calls, num=args.num,
         median_s=seconds, median_ms_per_sample=1e3 * seconds / args.num,
         median_ms_per_call=1e3 * seconds / calls if steps else None)


if __name__ == "__main__":
  main()
