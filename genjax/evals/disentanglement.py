"""The `disentanglement` evaluator: BetaVAE, FactorVAE, MIG, DCI and SAP of a model's codes.

Codes are the encoder's output (a VAE's posterior mean). The metrics need images chosen by
their factors -- pairs and batches with one factor fixed (BetaVAE, FactorVAE) and uniform
random samples (MIG, DCI, SAP) -- so they are drawn from the full factor grid through the
dataset's `get_by_factors` (FactorSource), as disentanglement_lib samples its ground-truth
dataset, rather than read from the held-out split. Protocol sizes default to
disentanglement_lib's (10,000 training and 5,000 evaluation points; batches of 64); on a
CPU pass smaller ones, e.g.

  genjax eval --workdir=runs/b4 --evals=disentanglement   (with config.evals.disentanglement.
    num_train=2000, num_eval=1000, betavae_num_train=300, ... in the run's config)

Options (cfg): seed (0), num_train / num_eval (random samples for MIG, DCI, SAP and the
FactorVAE variance estimate), num_bins (20), betavae_num_train / betavae_num_eval /
betavae_batch_size, factorvae_num_train / factorvae_num_eval / factorvae_batch_size,
prune_threshold (0.05), chunk (images per encoder call, 256). The estimators are pinned in
`disentanglement_metrics`.
"""
from __future__ import annotations

import time

import numpy as np

from genjax.data.base import FactorSource
from genjax.errors import ConfigError
from genjax.evals import disentanglement_metrics as dm
from genjax.evals.context import EvalContext

# Each metric draws from its own stream, so changing one metric's sizes leaves the others'
# samples (and numbers) unchanged.
_RANDOM_STREAM, _BETAVAE_STREAM, _FACTORVAE_STREAM = 0, 1, 2


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  ctx.require("encode", evaluator="disentanglement")
  check_factors(ctx)
  encode = factor_encoder(ctx, int(cfg.get("chunk", 256)))
  sizes = ctx.info.factor_sizes
  seed = int(cfg.get("seed", 0))
  streams = lambda s: np.random.default_rng([seed, s])
  start = time.perf_counter()

  size = lambda key, default: int(cfg.get(key, default))
  num_train, num_eval = size("num_train", dm.NUM_TRAIN), size("num_eval", dm.NUM_EVAL)
  f_NK = dm.sample_factors(streams(_RANDOM_STREAM), sizes, num_train + num_eval)
  z_ND = encode(f_NK)
  out = dm.all_random_sample_metrics(z_ND, f_NK, num_train, seed, size("num_bins", dm.MIG_BINS))

  bt, be = size("betavae_num_train", dm.NUM_TRAIN), size("betavae_num_eval", dm.NUM_EVAL)
  batch = size("betavae_batch_size", 64)
  f1_PBK, f2_PBK, k_P = dm.fixed_factor_pairs(streams(_BETAVAE_STREAM), sizes, bt + be, batch)
  z1_PBD = encode(f1_PBK.reshape(-1, len(sizes))).reshape(bt + be, batch, -1)
  z2_PBD = encode(f2_PBK.reshape(-1, len(sizes))).reshape(bt + be, batch, -1)
  out.update(dm.betavae_score(z1_PBD, z2_PBD, k_P, bt, seed))

  ft, fe = size("factorvae_num_train", dm.NUM_TRAIN), size("factorvae_num_eval", dm.NUM_EVAL)
  batch = size("factorvae_batch_size", 64)
  f_VBK, k_V = dm.fixed_factor_batches(streams(_FACTORVAE_STREAM), sizes, ft + fe, batch)
  z_VBD = encode(f_VBK.reshape(-1, len(sizes))).reshape(ft + fe, batch, -1)
  # The variances come from the random samples: a sample of the data as the protocol asks.
  out.update(dm.factorvae_score(z_VBD, k_V, np.var(z_ND, axis=0), ft, len(sizes),
                                float(cfg.get("prune_threshold", dm.PRUNE_THRESHOLD))))
  out["seconds"] = time.perf_counter() - start
  return out


def check_factors(ctx: EvalContext) -> None:
  """One-line refusal for a dataset whose images cannot be drawn from given factors."""
  if not ctx.info.factor_names:
    raise ConfigError(f"evaluator 'disentanglement' needs ground-truth factors, but dataset "
                      f"'{ctx.info.name}' has none; train on data.name='sprites' or drop it "
                      "from --evals")
  if not isinstance(ctx.test, FactorSource):
    raise ConfigError(f"evaluator 'disentanglement' draws images by their factors, which "
                      f"dataset '{ctx.info.name}' cannot serve (it is no full factor grid)")


def factor_encoder(ctx: EvalContext, chunk: int):
  """factors [N, K] -> codes [N, D] float64: the grid's images (ctx.test), then encode.

  Every call to the compiled encoder sees `chunk` images (the last chunk padded), so it
  compiles once however many images a metric asks for.
  """
  encode = ctx.jit("encode")

  def codes(factors_NK: np.ndarray) -> np.ndarray:
    out = []
    for start in range(0, len(factors_NK), chunk):
      part = factors_NK[start:start + chunk]
      pad = chunk - len(part)
      part = np.concatenate([part, np.repeat(part[:1], pad, axis=0)]) if pad else part
      z = np.asarray(encode(ctx.state, ctx.test.get_by_factors(part)["x"]))
      out.append(z[:chunk - pad])
    return np.concatenate(out).astype(np.float64)

  return codes
