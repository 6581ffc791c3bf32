"""The `elbo` evaluator: negative ELBO on held-out data in nats and bits/dim, with its parts.

-ELBO = E_q[-log p(x|z)] + KL(q(z|x) || p(z)) at beta = 1, one posterior sample per
example, averaged over data.num_eval held-out examples. Bits/dim = nats / (D ln 2) with D
the number of data dimensions. `proper_likelihood` (the family's, shared with the
`likelihood` evaluator) says whether the figure is -log of a distribution of the data:
True for binary data (sprites) with a Bernoulli decoder and for grey levels with a
binomial one on their grid (no dequantisation involved either way) and for a Gaussian on
vector data; False for grey levels fed to a Bernoulli decoder (a cross-entropy) or images
to a Gaussian (an undequantised density of discrete values).
"""
from __future__ import annotations

import math

import numpy as np

from genjax.core import family as contract
from genjax.evals.context import EvalContext


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  del cfg
  ctx.require(contract.EvidenceBound, evaluator="elbo")
  terms = ctx.per_example(ctx.jit("elbo_terms"))
  nelbo = float(np.mean(terms["nelbo"]))
  proper = ctx.family.proper_likelihood(ctx.info)
  return {
      "nelbo_nats": nelbo,
      "bits_per_dim": nelbo / (ctx.info.num_dims * math.log(2)),
      "rec_nats": float(np.mean(terms["rec"])),
      "kl_nats": float(np.mean(terms["kl"])),
      "num_examples": int(len(terms["nelbo"])),
      "proper_likelihood": bool(proper),
  }
