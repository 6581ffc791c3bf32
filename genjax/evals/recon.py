"""The `recon` evaluator: how well held-out inputs are reconstructed from their codes.

Uses the decoder mean of the posterior mean (VAE) or of the code (autoencoder): mean
squared error per dimension, and the reconstruction NLL per example in nats.
"""
from __future__ import annotations

import numpy as np

from genjax.core import family as contract
from genjax.evals.context import EvalContext


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  del cfg
  ctx.require(contract.Family, contract.Encoder, contract.Decoder, evaluator="recon")
  eval_step = ctx.jit("eval_step")
  terms = ctx.per_example(lambda state, batch, rng: eval_step(state, batch, rng, ctx.hp))
  return {
      "mse_per_dim": float(np.mean(terms["sq_err"]) / ctx.info.num_dims),
      "rec_nats": float(np.mean(terms["rec"])),
      "num_examples": int(len(terms["sq_err"])),
  }
