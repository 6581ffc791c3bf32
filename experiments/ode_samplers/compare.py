"""Fast probability-flow samplers against DDIM and DDPM-1000 on a trained diffusion run.

  python experiments/ode_samplers/compare.py --workdir=runs/diff_ring8 [--num=20000]
  python experiments/ode_samplers/compare.py --workdir=runs/diff_digits_ode --num=2000 \
      --ddpm_num=1000

For each sampler and step count (DDIM, Euler, Heun, DPM-Solver++(2M) at --steps; DDPM at
every one of the T steps, --ddpm_num samples (default --num), and the adaptive ODE solver
as references) it draws samples from the run's averaged parameters with the same
seed (the first rows of every sampler start from the same noise) and reports, with the
network calls per sample and the wall-clock seconds (after compilation):
- toy2d runs: the mode metrics (`genjax.evals.modes.mode_stats`: modes covered, share
  within 3 std of a mode, reverse KL of the mode histogram to uniform) and the samples'
  median exact NLL under the true mixture minus the held-out data's (0 when samples are
  as typical as data; negative when they crowd the modes' centres, positive when they
  spread; the median, since the few samples between modes have NLLs in the hundreds).
- digits runs (`digits_protocol.py`): the judge's class histogram (classes covered, KL to
  uniform), its mean confidence, and the Frechet distance / precision / recall in its
  feature space as the `quality` evaluator computes them, with a `data` row (training
  digits, judged the same way) as the floor.
The adaptive ODE's calls are 6 per accepted Tsit5 step of the likelihood solve on held-out
points (FSAL: 6 new stages per step; rejected steps not counted), a proxy for its
sampling path. Prints a markdown table and writes it with JSON lines next to the run
(<workdir>/ode_samplers.md, .jsonl); digits also get <workdir>/figures/ode_samplers.png,
one row of the first samples per sampler and step count.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

import jax
import numpy as np

from genjax.data import toy2d
from genjax.evals.modes import mode_stats
from genjax.models import diffusion_fast as fast
from genjax.train import session as gsession

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits_protocol  # pylint: disable=g-import-not-at-top,wrong-import-position


def draw(family, state, hp, num: int, seed: int, chunk: int) -> tuple[np.ndarray, float]:
  """(num samples, seconds after compilation) from the family's own compiled `sample`.

  Chunk i always uses key fold_in(seed, i) at size min(chunk, num), so two calls with the
  same seed and chunk size start from the same noise whatever their sampler.
  """
  sample = jax.jit(family.sample, static_argnums=(2,))
  size = min(chunk, num)
  sample(state, jax.random.key(seed), size, hp).block_until_ready()  # compile
  start = time.perf_counter()
  chunks = [np.asarray(sample(state, jax.random.fold_in(jax.random.key(seed), i), size, hp))
            for i in range(-(-num // size))]
  return np.concatenate(chunks)[:num], time.perf_counter() - start


def calls(sampler: str, steps: int, ode_steps: float = float("nan")) -> float:
  if sampler == "ode":
    return ode_steps
  return fast.network_calls(sampler, steps) if sampler in fast.FAST_SAMPLERS else steps


def ode_calls(family, ctx, num_points: int) -> float:
  """6 x the mean accepted Tsit5 steps of the likelihood solve on held-out points."""
  z = ctx.first_examples(num_points)["x"]
  nll = jax.jit(family.ode_nll)(ctx.state, {"x": z}, jax.random.key(0))
  return 6 * float(np.mean(nll["steps"]))


class Toy2dProtocol:
  """The toy2d mode metrics and the samples' median NLL under the true mixture."""
  chunk = 10_000
  ode_points = 256
  header = ["| sampler | steps | network calls | modes | high quality | reverse KL | "
            "median NLL - data's (nats) | seconds |", "|---|---|---|---|---|---|---|---|"]

  def __init__(self, ctx, num: int):
    self.toy = ctx.config.data.toy
    self.means, self.std = toy2d.mixture(self.toy)
    self.data_nll = float(np.median(-toy2d.log_density(self.toy, ctx.first_examples(num)["x"])))

  def measure(self, x: np.ndarray) -> dict:
    return {**mode_stats(x, self.means, self.std),
            "sample_nll_minus_data": float(np.median(-toy2d.log_density(self.toy, x)))
                                     - self.data_nll}

  def references(self) -> list[dict]:
    return []

  def row(self, r: dict, steps: str) -> str:
    return (f"| {r['sampler']} | {steps} | {r['network_calls']:.0f} | "
            f"{r['modes']}/{r['num_modes']} | {100 * r['high_quality']:.1f} % | "
            f"{r['reverse_kl']:.4f} | {r['sample_nll_minus_data']:+.3f} | {r['seconds']:.1f} |")

  def figure(self, workdir: str, samples: list[tuple[str, np.ndarray]]) -> str | None:
    del workdir, samples
    return None


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--num", type=int, default=20_000)
  parser.add_argument("--ddpm_num", type=int, default=0,
                      help="samples for the DDPM reference row, the costly one (default --num)")
  parser.add_argument("--steps", default="10,20,50")
  parser.add_argument("--samplers", default="ddim,euler,heun,dpmpp2m")
  parser.add_argument("--references", default="ddpm,ode",
                      help="reference rows to draw: ddpm (every step), ode (adaptive)")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--append", action="store_true",
                      help="add these rows to the run's ode_samplers.jsonl and rewrite the "
                           "table from all of them (e.g. the references drawn on their own)")
  args = parser.parse_args()
  session, ctx = gsession.load_trained(args.workdir)
  protocol = (digits_protocol.DigitsProtocol(session, ctx, args.num)
              if digits_protocol.applies(ctx) else Toy2dProtocol(ctx, args.num))
  runs = [(s, int(k), args.num) for s in args.samplers.split(",") if s
          for k in args.steps.split(",")]
  for ref in [r for r in args.references.split(",") if r]:
    runs.append((ref, ctx.family.schedule.num_steps, args.ddpm_num or args.num) if ref == "ddpm"
                else (ref, 0, args.num))
  jsonl = os.path.join(args.workdir, "ode_samplers.jsonl")
  rows, samples = [], []
  if args.append and os.path.exists(jsonl):
    with open(jsonl) as f:
      rows = [r for r in map(json.loads, f) if not r["sampler"].startswith("data")]
  for sampler, steps, num in runs:
    family = dataclasses.replace(ctx.family, sampler=sampler, sample_steps=max(steps, 1))
    x, seconds = draw(family, ctx.state, ctx.hp, num, args.seed, protocol.chunk)
    row = {"sampler": sampler, "steps": steps, "num_samples": num,
           "network_calls": calls(sampler, steps), **protocol.measure(x), "seconds": seconds}
    if sampler == "ode":  # the adaptive solver's calls: Tsit5 costs 6 per accepted step
      row["network_calls"] = ode_calls(family, ctx, protocol.ode_points)
    rows.append(row)
    samples.append((f"{sampler} {'adaptive' if sampler == 'ode' else steps}", x))
    print(json.dumps(row), flush=True)
  rows += protocol.references()
  table = list(protocol.header)
  for r in rows:
    table.append(protocol.row(r, "adaptive" if r["sampler"] == "ode" else str(r["steps"])))
  text = "\n".join(table)
  print(text)
  with open(os.path.join(args.workdir, "ode_samplers.md"), "w") as f:
    f.write(text + "\n")
  with open(jsonl, "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
  path = protocol.figure(args.workdir, samples)
  if path:
    print(f"figure: {path}")


if __name__ == "__main__":
  main()
