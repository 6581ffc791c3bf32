"""The `elbo` evaluator: negative ELBO on held-out data in nats and bits/dim, with its parts.

-ELBO = E_q[-log p(x|z)] + KL(q(z|x) || p(z)) at beta = 1, one posterior sample per
example, averaged over data.num_eval held-out examples. Bits/dim = nats / (D ln 2) with D
the number of data dimensions. For binary data (sprites) the Bernoulli decoder is a
proper likelihood and no dequantisation is involved; for grey-level data fed to a
Bernoulli decoder the figure is a cross-entropy, not a density (reported as such by
`proper_likelihood`).
"""
from __future__ import annotations

import math

import numpy as np

from genjax.evals.context import EvalContext


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  del cfg
  ctx.require("eval_step", evaluator="elbo")
  eval_step = ctx.jit("eval_step")
  terms = ctx.per_example(lambda state, batch, rng: eval_step(state, batch, rng, ctx.hp))
  if "nelbo" not in terms:
    ctx.require("log_prob_bound", evaluator="elbo")
  nelbo = float(np.mean(terms["nelbo"]))
  proper = ctx.info.binary or ctx.config.model.likelihood == "gaussian"
  return {
      "nelbo_nats": nelbo,
      "bits_per_dim": nelbo / (ctx.info.num_dims * math.log(2)),
      "rec_nats": float(np.mean(terms["rec"])),
      "kl_nats": float(np.mean(terms["kl"])),
      "num_examples": int(len(terms["nelbo"])),
      "proper_likelihood": bool(proper),
  }
