"""The `accuracy` evaluator for classifiers: held-out accuracy and negative log-likelihood."""
from __future__ import annotations

import numpy as np

from genjax.core import family as contract
from genjax.evals.context import EvalContext


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  del cfg
  ctx.require(contract.Classifier, evaluator="accuracy")
  eval_step = ctx.jit("eval_step")
  terms = ctx.per_example(lambda state, batch, rng: eval_step(state, batch, rng, ctx.hp))
  return {"accuracy": float(np.mean(terms["correct"])), "nll": float(np.mean(terms["nll"])),
          "num_examples": int(len(terms["correct"]))}
