"""DPM-Solver++(2M) grid variants on a trained diffusion run: spacing, end time, final step.

  python experiments/ode_samplers/dpm_variants.py --workdir=runs/diff_ring8 [--num=10000]

Each variant is `spacing[+lof][@t_end]`: the grid spacing (`diffusion_fast.SPACINGS`),
`+lof` for a first-order last step (model.fast_lower_order_final), `@t_end` for a grid that
ends at continuous time t_end instead of the first knot (model.fast_t_end). For each
variant and step count it draws --num samples with the same seed as compare.py and
reports the same metrics (toy2d: compare.Toy2dProtocol; digits: digits_protocol). Prints a markdown table and writes
it with JSON lines next to the run (<workdir>/dpm_variants.md, .jsonl).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare  # pylint: disable=g-import-not-at-top,wrong-import-position
import digits_protocol  # pylint: disable=g-import-not-at-top,wrong-import-position
from genjax.train import session as gsession  # pylint: disable=wrong-import-position

_DEFAULT = "karras,karras+lof,logsnr,logsnr+lof,time_uniform,time_quadratic,karras@1e-5"


def parse(variant: str) -> dict:
  """'logsnr+lof@1e-5' -> the family fields it sets."""
  spec, _, t_end = variant.partition("@")
  spacing, _, lof = spec.partition("+")
  return {"fast_spacing": spacing, "fast_lower_order_final": lof == "lof",
          "fast_t_end": float(t_end or 0.0)}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--workdir", required=True)
  parser.add_argument("--num", type=int, default=10_000)
  parser.add_argument("--steps", default="10,20,50")
  parser.add_argument("--variants", default=_DEFAULT)
  parser.add_argument("--sampler", default="dpmpp2m")
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  session, ctx = gsession.load_trained(args.workdir)
  protocol = (digits_protocol.DigitsProtocol(session, ctx, args.num)
              if digits_protocol.applies(ctx) else compare.Toy2dProtocol(ctx, args.num))
  rows = []
  for variant in args.variants.split(","):
    for steps in [int(k) for k in args.steps.split(",")]:
      family = dataclasses.replace(ctx.family, sampler=args.sampler, sample_steps=steps,
                                   **parse(variant))
      x, seconds = compare.draw(family, ctx.state, ctx.hp, args.num, args.seed, protocol.chunk)
      row = {"variant": variant, "sampler": f"{args.sampler} {variant}", "steps": steps,
             "num_samples": args.num, "network_calls": compare.calls(args.sampler, steps),
             **protocol.measure(x), "seconds": seconds}
      rows.append(row)
      print(json.dumps(row), flush=True)
  table = list(protocol.header) + [protocol.row(r, str(r["steps"])) for r in rows]
  text = "\n".join(table)
  print(text)
  with open(os.path.join(args.workdir, "dpm_variants.md"), "w") as f:
    f.write(text + "\n")
  with open(os.path.join(args.workdir, "dpm_variants.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)


if __name__ == "__main__":
  main()
