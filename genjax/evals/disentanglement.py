"""The `disentanglement` evaluator: disentanglement_lib's metrics of a model's codes.

Metrics (computed as disentanglement_lib's unsupervised_study_v1 configs compute them; the
estimators are pinned in `disentanglement_metrics`): BetaVAE, FactorVAE, MIG, DCI
(disentanglement, completeness, informativeness), SAP, modularity and explicitness, and the
unsupervised scores (Gaussian total / Wasserstein correlation, mutual-information score).

Codes are the encoder's output (a VAE's posterior mean). The metrics need images chosen by
their factors -- pairs and batches with one factor fixed (BetaVAE, FactorVAE) and uniform
random samples (the rest) -- so they are drawn from the full factor grid through the
dataset's `get_by_factors` (FactorSource), as disentanglement_lib samples its ground-truth
dataset, rather than read from the held-out split. The random samples serve every metric
that needs them (the first num_train fit, the next num_eval score), where disentanglement_lib
draws a fresh sample per metric: the same distribution, one encoding pass.

Options (cfg): protocol ('full': disentanglement_lib's sizes, 10,000 training and 5,000
evaluation points, batches of 64, FactorVAE variances from 10,000 codes; 'cpu': 2,000 /
1,000 points and 1,000 / 500 votes for CPU studies; 'tiny' for tests), and any of its sizes
to change one (num_train, num_eval, num_bins, betavae_num_train / _num_eval / _batch_size,
factorvae_num_train / _num_eval / _batch_size / _num_variance); seed (0); prune_threshold
(0.05, on the std); n_jobs (-1: per-factor fits on every core; the numbers do not depend on
it); chunk (images per encoder call, 256). E.g.

  genjax eval --workdir=runs/b4 --evals=disentanglement --config.evals.disentanglement.protocol=cpu

Every result names its protocol ("full", or "cpu with num_train=500" when a size was changed)
and the scikit-learn version, whose defaults move the classifier-based scores.
"""
from __future__ import annotations

import time

import numpy as np

from genjax.core import family as contract
from genjax.data.base import FactorSource
from genjax.errors import ConfigError
from genjax.evals import disentanglement_metrics as dm
from genjax.evals.context import EvalContext
from genjax.evals.progress import Meter

# Each metric draws from its own stream, so changing one metric's sizes leaves the others'
# samples (and numbers) unchanged.
_RANDOM_STREAM, _BETAVAE_STREAM, _FACTORVAE_STREAM = 0, 1, 2


def run(ctx: EvalContext, cfg) -> dict:
  ctx.require(contract.Encoder, evaluator="disentanglement")
  check_factors(ctx)
  label, p = protocol_sizes(cfg)
  sizes = ctx.info.factor_sizes
  seed, n_jobs = int(cfg.get("seed", 0)), int(cfg.get("n_jobs", -1))
  streams = lambda s: np.random.default_rng([seed, s])
  start = time.perf_counter()
  bt, be, b_batch = p["betavae_num_train"], p["betavae_num_eval"], p["betavae_batch_size"]
  ft, fe, f_batch = p["factorvae_num_train"], p["factorvae_num_eval"], p["factorvae_batch_size"]
  # Every image is encoded first (each metric draws from its own stream, so the order
  # moves no number), then the metrics are fitted: one progress line for each part.
  num_images = p["num_train"] + p["num_eval"] + 2 * (bt + be) * b_batch + (ft + fe) * f_batch
  meter = Meter("disentanglement encoding", num_images, unit="images")
  encode = factor_encoder(ctx, int(cfg.get("chunk", 256)), meter)

  f_NK = dm.sample_factors(streams(_RANDOM_STREAM), sizes, p["num_train"] + p["num_eval"])
  z_ND = encode(f_NK)
  f1_PBK, f2_PBK, k_P = dm.fixed_factor_pairs(streams(_BETAVAE_STREAM), sizes, bt + be, b_batch)
  z1_PBD = encode(f1_PBK.reshape(-1, len(sizes))).reshape(bt + be, b_batch, -1)
  z2_PBD = encode(f2_PBK.reshape(-1, len(sizes))).reshape(bt + be, b_batch, -1)
  f_VBK, k_V = dm.fixed_factor_batches(streams(_FACTORVAE_STREAM), sizes, ft + fe, f_batch)
  z_VBD = encode(f_VBK.reshape(-1, len(sizes))).reshape(ft + fe, f_batch, -1)
  meter.finish()

  metrics = Meter("disentanglement metrics", len(dm.RANDOM_SAMPLE_METRICS) + 2, unit="metrics")
  out = dm.all_random_sample_metrics(z_ND, f_NK, p["num_train"], seed, p["num_bins"], n_jobs,
                                     done=lambda name: metrics.advance())
  out.update(dm.betavae_score(z1_PBD, z2_PBD, k_P, bt, seed))
  metrics.advance()
  # The global variances come from the random samples: a sample of the data, as the protocol.
  variances_D = dm.global_variances(z_ND[:p["factorvae_num_variance"]])
  out.update(dm.factorvae_score(z_VBD, k_V, variances_D, ft, len(sizes),
                                float(cfg.get("prune_threshold", dm.PRUNE_THRESHOLD))))
  metrics.advance()
  metrics.finish()
  out["seconds"] = time.perf_counter() - start
  out["protocol"] = label
  out["sklearn_version"] = dm.sklearn_version()
  return out


def protocol_sizes(cfg) -> tuple[str, dict[str, int]]:
  """(label, sizes) of cfg.protocol with any size the cfg sets itself.

  The FactorVAE variances come from the first factorvae_num_variance random samples; when
  the cfg shrinks num_train + num_eval below it without setting it, all of them are used.

  The label is the protocol's name, followed by the sizes changed from it, so a result
  says exactly which protocol made it ("full", or "cpu with num_train=500").
  """
  name = str(cfg.get("protocol", "full"))
  if name not in dm.PROTOCOLS:
    raise ConfigError(f"evals.disentanglement.protocol='{name}' is unknown; use one of "
                      f"{', '.join(dm.PROTOCOLS)} ('full' is disentanglement_lib's)")
  sizes = dict(dm.PROTOCOLS[name])
  changed = []
  for key, default in dm.PROTOCOLS[name].items():
    value = cfg.get(key, None)
    if value is None:
      continue
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
      raise ConfigError(f"evals.disentanglement.{key}={value!r} must be a positive integer")
    if value != default:
      sizes[key] = value
      changed.append(f"{key}={value}")
  for key in ("num_train", "num_eval", "betavae_num_train", "betavae_num_eval",
              "factorvae_num_train", "factorvae_num_eval", "betavae_batch_size",
              "factorvae_batch_size"):
    if sizes[key] < 2:
      raise ConfigError(f"evals.disentanglement.{key}={sizes[key]} is too small; use at least 2")
  threshold = cfg.get("prune_threshold", dm.PRUNE_THRESHOLD)
  if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold < 0:
    raise ConfigError(f"evals.disentanglement.prune_threshold={threshold!r} must be a number "
                      ">= 0 (a standard deviation; the protocol's is 0.05)")
  if float(threshold) != dm.PRUNE_THRESHOLD:
    changed.append(f"prune_threshold={float(threshold):g}")
  available = sizes["num_train"] + sizes["num_eval"]
  unset = cfg.get("factorvae_num_variance", None) is None
  if unset and sizes["factorvae_num_variance"] > available:
    # Fewer random samples than the protocol's variance estimate: use them all, and say so.
    sizes["factorvae_num_variance"] = available
    changed.append(f"factorvae_num_variance={available}")
  if sizes["factorvae_num_variance"] > available:
    raise ConfigError(
        f"evals.disentanglement.factorvae_num_variance={sizes['factorvae_num_variance']} exceeds "
        f"the {sizes['num_train'] + sizes['num_eval']} random samples (num_train + num_eval); "
        "lower it or raise num_train")
  return (f"{name} with {', '.join(changed)}" if changed else name), sizes


def check_factors(ctx: EvalContext) -> None:
  """One-line refusal for a dataset whose images cannot be drawn from given factors."""
  if not ctx.info.factor_names:
    raise ConfigError(f"evaluator 'disentanglement' needs ground-truth factors, but dataset "
                      f"'{ctx.info.name}' has none; train on data.name='sprites' or drop it "
                      "from --evals")
  if not isinstance(ctx.test, FactorSource):
    raise ConfigError(f"evaluator 'disentanglement' draws images by their factors, which "
                      f"dataset '{ctx.info.name}' cannot serve (it is no full factor grid)")


def factor_encoder(ctx: EvalContext, chunk: int, meter: Meter | None = None):
  """factors [N, K] -> codes [N, D] float64: the grid's images (ctx.test), then encode.

  Every call to the compiled encoder sees `chunk` images (the last chunk padded), so it
  compiles once however many images a metric asks for. `meter` counts the images encoded.
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
      if meter is not None:
        meter.advance(chunk - pad)
    return np.concatenate(out).astype(np.float64)

  return codes
