"""Fast probability-flow samplers against DDIM and DDPM-1000 on a trained toy2d diffusion run.

  python experiments/ode_samplers/compare.py --workdir=runs/diff_ring8 [--num=20000]

For each sampler and step count (DDIM, Euler, Heun, DPM-Solver++(2M) at --steps; DDPM at
every one of the T steps and the adaptive ODE solver as references) it draws --num samples
from the run's averaged parameters with the same seed and reports the toy2d mode metrics
(`genjax.evals.modes.mode_stats`: modes covered, share within 3 std of a mode, reverse KL
of the mode histogram to uniform) and the samples' median exact NLL under the true
mixture minus the held-out data's (0 when samples are as typical as data; negative when
they crowd the modes' centres, positive when they spread; the median, since the few
samples between modes have NLLs in the hundreds), with the network calls per sample and
the wall-clock seconds (after compilation). The adaptive ODE's calls are 6 per accepted
Tsit5 step of the likelihood solve on 256 held-out points (FSAL: 6 new stages per step;
rejected steps not counted), a proxy for its sampling path. Prints a markdown table and writes it with JSON lines next to
the run (<workdir>/ode_samplers.md, .jsonl).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import jax
import numpy as np

from genjax.data import toy2d
from genjax.evals.modes import mode_stats
from genjax.models import diffusion_fast as fast
from genjax.train import session as gsession

_CHUNK = 10_000


def draw(family, state, hp, num: int, seed: int) -> tuple[np.ndarray, float]:
  """(num samples, seconds after compilation) from the family's own compiled `sample`."""
  sample = jax.jit(family.sample, static_argnums=(2,))
  size = min(_CHUNK, num)
  sample(state, jax.random.key(seed), size, hp).block_until_ready()  # compile
  start = time.perf_counter()
  chunks = [np.asarray(sample(state, jax.random.fold_in(jax.random.key(seed), i), size, hp))
            for i in range(-(-num // size))]
  return np.concatenate(chunks)[:num], time.perf_counter() - start


def calls(sampler: str, steps: int, ode_steps: float = float("nan")) -> float:
  if sampler == "ode":
    return ode_steps
  return fast.network_calls(sampler, steps) if sampler in fast.FAST_SAMPLERS else steps


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--num", type=int, default=20_000)
  parser.add_argument("--steps", default="10,20,50")
  parser.add_argument("--samplers", default="ddim,euler,heun,dpmpp2m")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  _, ctx = gsession.load_trained(args.workdir)
  toy = ctx.config.data.toy
  means, std = toy2d.mixture(toy)
  data_nll = float(np.median(-toy2d.log_density(toy, ctx.first_examples(args.num)["x"])))
  runs = [(s, int(k)) for s in args.samplers.split(",") for k in args.steps.split(",")]
  runs += [("ddpm", ctx.family.schedule.num_steps), ("ode", 0)]
  rows = []
  for sampler, steps in runs:
    family = dataclasses.replace(ctx.family, sampler=sampler, sample_steps=max(steps, 1))
    x, seconds = draw(family, ctx.state, ctx.hp, args.num, args.seed)
    row = {"sampler": sampler, "steps": steps, "network_calls": calls(sampler, steps),
           **mode_stats(x, means, std),
           "sample_nll_minus_data": float(np.median(-toy2d.log_density(toy, x))) - data_nll,
           "seconds": seconds}
    if sampler == "ode":  # the adaptive solver's calls: Tsit5 costs 6 per accepted step
      z = ctx.first_examples(256)["x"]
      nll = jax.jit(family.ode_nll)(ctx.state, {"x": z}, jax.random.key(0))
      row["network_calls"] = 6 * float(np.mean(nll["steps"]))
    rows.append(row)
    print(json.dumps(row), flush=True)
  table = ["| sampler | steps | network calls | modes | high quality | reverse KL | "
           "median NLL - data's (nats) | seconds |", "|---|---|---|---|---|---|---|---|"]
  for r in rows:
    steps = "adaptive" if r["sampler"] == "ode" else r["steps"]
    table.append(f"| {r['sampler']} | {steps} | {r['network_calls']:.0f} | "
                 f"{r['modes']}/{r['num_modes']} | {100 * r['high_quality']:.1f} % | "
                 f"{r['reverse_kl']:.4f} | {r['sample_nll_minus_data']:+.3f} | "
                 f"{r['seconds']:.1f} |")
  text = "\n".join(table)
  print(text)
  with open(os.path.join(args.workdir, "ode_samplers.md"), "w") as f:
    f.write(text + "\n")
  with open(os.path.join(args.workdir, "ode_samplers.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)


if __name__ == "__main__":
  main()
