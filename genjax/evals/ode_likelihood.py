"""The `ode_likelihood` evaluator: -log p(x) under a diffusion model's probability-flow ODE.

Averages the family's `ode_nll` (the instantaneous change of variables along the ODE,
models/diffusion_ode.py) over the first `num_examples` held-out examples (default
data.num_eval) and reports nats and bits/dim (nats / (D ln 2)) with standard errors, the
solver's mean accepted steps and the seconds per example. The standard error covers the
spread over examples and, with the Hutchinson estimator, over its probes (one per
example): the estimate of each -log p(x) is unbiased, the mean's error is the stderr.

Dequantisation: toy2d points are continuous, the density is of the points themselves,
directly comparable with the mixture's exact NLL (reported with the gap); images are
uniformly dequantised on their grid k / model.levels and the density is on the integer
scale [0, levels + 1)^D (score_sde's [0, 256) for 8-bit data), an upper bound on the
discrete -log P(k) that the VAE's binomial and diffusion's VLB report.

Options (cfg): num_examples; divergence ('auto': exact trace up to 16 dims, else
'hutchinson'; or either by name); probe ('rademacher' or 'gaussian'); rtol, atol (default
the model's model.ode_rtol / ode_atol); conditional (False: p(x) with the null label).
"""
from __future__ import annotations

import math
import time

import jax
import numpy as np

from genjax.core import family as contract
from genjax.data import toy2d
from genjax.evals.context import EvalContext


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  ctx.require(contract.ProbabilityFlow, evaluator="ode_likelihood")
  family = ctx.family
  options = dict(divergence=str(cfg.get("divergence", "auto")),
                 probe=str(cfg.get("probe", "rademacher")),
                 rtol=float(cfg.get("rtol", 0.0)) or None,
                 atol=float(cfg.get("atol", 0.0)) or None,
                 conditional=bool(cfg.get("conditional", False)))
  nll_fn = jax.jit(lambda state, batch, rng: family.ode_nll(state, batch, rng, **options))
  mixture = ctx.config.data.name == "toy2d" and ctx.config.data.toy in toy2d.MIXTURES

  def per_batch(state, batch, rng):
    out = dict(nll_fn(state, batch, rng))
    if mixture:
      out["x"] = batch["x"]
    return out

  start = time.perf_counter()
  terms = ctx.per_example(per_batch, int(cfg.get("num_examples", ctx.config.data.num_eval)),
                          label="ode_likelihood")
  seconds = time.perf_counter() - start  # the first batch's compilation included
  nll = terms["nll"].astype(np.float64)
  to_bits = 1.0 / (ctx.info.num_dims * math.log(2))
  out = {
      "nll_nats": float(nll.mean()),
      "nll_stderr_nats": _stderr(nll),
      "bits_per_dim": float(nll.mean() * to_bits),
      "bits_per_dim_stderr": _stderr(nll) * to_bits,
      "solver_steps_mean": float(terms["steps"].mean()),
      "seconds_per_example": seconds / len(nll),
      "num_examples": int(len(nll)),
      "dequantized": bool(ctx.info.kind == "image"),
  }
  if mixture:
    exact = -toy2d.log_density(ctx.config.data.toy, terms["x"])
    gap = nll - exact
    out.update({"exact_nll_nats": float(exact.mean()), "gap_nats": float(gap.mean()),
                "gap_stderr_nats": _stderr(gap)})
  return out


def _stderr(values: np.ndarray) -> float:
  """Standard error of the mean (0 for a single value)."""
  return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
