"""The `quality` evaluator: precision, recall and Frechet distance of samples against held-out data.

Draws `num_samples` samples (default 2,000, capped at the held-out set's size so both sets
are equally large) and compares them with as many held-out examples in a feature space:
- digits-like data (digits; stacked digits channel by channel, features concatenated):
  the penultimate layer of the genjax digits classifier (`judge.py`: the run directory
  cfg.judge, else one trained once on the digits training split and cached; its held-out
  accuracy is reported as `judge_accuracy`). No Inception network: these numbers compare genjax models with each
  other, not with published FID values.
- any other data (sprites, toy2d, translation domains): the raw pixels / coordinates,
  flattened (`in_judge_features` is False). cfg.space = 'pixels' forces raw space on
  digits too.
Precision/recall follow Kynkaanniemi et al. 2019 with k = cfg.k (3) nearest-neighbour
manifolds; the Frechet distance is that of Gaussians fitted to both feature sets.
"""
from __future__ import annotations

import jax
import numpy as np

from genjax.core import family as contract
from genjax.evals import judge, sample_metrics
from genjax.evals.context import EvalContext
from genjax.evals import progress

_CHUNK = 1000


def draw_samples(ctx: EvalContext, num: int, stream: int, evaluator: str) -> np.ndarray:
  """`num` samples as numpy, drawn in chunks from stream `stream` of ctx.rng."""
  ctx.require(contract.Sampler, evaluator=evaluator)
  sample = ctx.jit("sample", static_argnums=(2,))
  rng = jax.random.fold_in(ctx.rng, stream)
  chunks = [np.asarray(sample(ctx.state, jax.random.fold_in(rng, i), _CHUNK, ctx.hp))
            for i in progress.chunks(num, _CHUNK, f"{evaluator} sampling")]
  return np.concatenate(chunks)[:num]


def embedder(ctx: EvalContext, cfg, space: str, evaluator: str):
  """(fn: x [N, ...] -> features [N, F], judge accuracy or None) for the chosen space."""
  if space == "pixels":
    return lambda x: np.asarray(x, np.float32).reshape(len(x), -1), None
  classifier = judge.load(ctx, cfg, evaluator)

  def features(x_NHWC):
    # Each colour channel of a stacked digit is a digit of its own (the stacked-MNIST
    # protocol), so each is judged alone and their features are concatenated.
    per_channel = [classifier.features(x_NHWC[..., c:c + 1]) for c in range(x_NHWC.shape[-1])]
    return np.concatenate(per_channel, axis=1).astype(np.float64)
  return features, classifier.accuracy


def compare(real_NF: np.ndarray, fake_MF: np.ndarray, k: int = 3) -> dict[str, float]:
  """Precision, recall (k-NN manifolds) and Frechet distance of two feature sets.

  The evaluator's numbers for features it has embedded; `run` passes equally large sets.
  """
  precision, recall = sample_metrics.precision_recall(real_NF, fake_MF, k)
  mu_r, cov_r = sample_metrics.gaussian_statistics(real_NF)
  mu_f, cov_f = sample_metrics.gaussian_statistics(fake_MF)
  return {
      "precision": precision,
      "recall": recall,
      "frechet_distance": sample_metrics.frechet_distance(mu_r, cov_r, mu_f, cov_f),
      "k": k,
      "num_real": int(len(real_NF)),
      "num_fake": int(len(fake_MF)),
      "feature_dims": int(real_NF.shape[1]),
  }


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  num = min(int(cfg.get("num_samples", 2000)), len(ctx.test))
  k = int(cfg.get("k", 3))
  space = judge.feature_space(ctx.config.data.name, cfg)
  embed, accuracy = embedder(ctx, cfg, space, "quality")
  real_NF = embed(ctx.first_examples(num)["x"])
  fake_MF = embed(draw_samples(ctx, num, stream=13, evaluator="quality"))
  out = compare(real_NF, fake_MF, k)
  out["in_judge_features"] = space == "features"
  if accuracy is not None:
    out["judge_accuracy"] = float(accuracy)
  return out
