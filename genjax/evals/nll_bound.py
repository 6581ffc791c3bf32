"""The `nll_bound` evaluator: a family's bound on -log p(x) over held-out data, and its gap.

Averages `family.log_prob_bound` (nats per example, an upper bound on -log p(x)) over the
first `num_examples` held-out examples (default data.num_eval) and reports it in nats and
bits/dim (nats / (D ln 2)). On a toy2d mixture the exact NLL of the same points comes from
the closed-form density, so the bound's gap (bound - exact, >= 0 up to Monte Carlo noise
in the bound) is reported too. The dequantisation convention is the family's (diffusion:
continuous density for points, a probability of images on the grid k / model.levels,
8-bit by default; see its module docstring).
"""
from __future__ import annotations

import math

import numpy as np

from genjax.core import family as contract
from genjax.data import toy2d
from genjax.evals.context import EvalContext


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  ctx.require(contract.LogProbBound, evaluator="nll_bound")
  bound_fn = ctx.jit("log_prob_bound")
  mixture = ctx.config.data.name == "toy2d" and ctx.config.data.toy in toy2d.MIXTURES

  def per_batch(state, batch, rng):
    out = {"bound": bound_fn(state, batch, rng)}
    if mixture:
      out["x"] = batch["x"]
    return out

  terms = ctx.per_example(per_batch, int(cfg.get("num_examples", ctx.config.data.num_eval)),
                          label="nll_bound")
  bound = terms["bound"].astype(np.float64)
  dims = ctx.info.num_dims
  out = {
      "bound_nats": float(bound.mean()),
      "bound_bits_per_dim": float(bound.mean() / (dims * math.log(2))),
      "bound_stderr_nats": _stderr(bound),
      "num_examples": int(len(bound)),
  }
  if mixture:
    exact = -toy2d.log_density(ctx.config.data.toy, terms["x"])
    gap = bound - exact
    out.update({
        "exact_nll_nats": float(exact.mean()),
        "gap_nats": float(gap.mean()),
        "gap_stderr_nats": _stderr(gap),
    })
  return out


def _stderr(values: np.ndarray) -> float:
  """Standard error of the mean (0 for a single value)."""
  return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
