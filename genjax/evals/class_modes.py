"""The `class_modes` evaluator: which classes a generator covers, judged by a classifier.

Draws `num_samples` samples (10,000), labels each with the genjax digits classifier
(`judge.py`: the run directory cfg.judge, else a cached one; its held-out accuracy is
reported as `judge_accuracy`), and reports the classes covered (of 10 for digits; of 1,000 for stacked digits, each colour channel judged
on its own, as in the stacked-MNIST protocol of VEEGAN/PacGAN), and KL(histogram ||
uniform). For a conditional model, samples request classes in turn and `cond_accuracy`
is the share judged to show the requested class.
"""
from __future__ import annotations

import jax
import numpy as np

from genjax.core import family as contract
from genjax.errors import ConfigError
from genjax.evals import judge
from genjax.evals.context import EvalContext
from genjax.evals import progress

_CHUNK = 1000


def histogram_stats(classes_N: np.ndarray, num_classes: int) -> dict[str, float]:
  counts = np.bincount(classes_N, minlength=num_classes)
  p = counts / counts.sum()
  nz = p > 0
  return {"modes": int(nz.sum()), "num_modes": num_classes,
          "kl_to_uniform": float(np.sum(p[nz] * np.log(p[nz] * num_classes)))}


def judged_classes(classifier: judge.Judge, x_NHWC: np.ndarray) -> np.ndarray:
  """[N] class of each sample as the judge sees it, in [0, 10**C) for C channels.

  Each colour channel of a stacked digit is a digit of its own (the stacked-MNIST
  protocol): the channels are judged one by one and read as the digits of one number,
  the first channel the most significant.
  """
  n, channels = len(x_NHWC), x_NHWC.shape[-1]
  per_channel = classifier.classes(np.moveaxis(x_NHWC, -1, 0).reshape(-1, *x_NHWC.shape[1:3], 1))
  per_channel = per_channel.reshape(channels, n)
  return sum(per_channel[c] * 10 ** (channels - 1 - c) for c in range(channels))


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  ctx.require(contract.Sampler, evaluator="class_modes")
  if ctx.config.data.name not in judge.DIGITS_LIKE:
    raise ConfigError("evaluator 'class_modes' judges digits or stacked_digits samples; "
                      f"data.name is '{ctx.config.data.name}'")
  num = int(cfg.get("num_samples", 10_000))
  conditional = contract.num_classes(ctx.family) > 0
  sample = ctx.jit("sample", static_argnums=(2,))
  rng = jax.random.fold_in(ctx.rng, 11)
  chunks, requested = [], []
  for i in progress.chunks(num, _CHUNK, "class_modes sampling"):
    cond = (np.arange(i * _CHUNK, (i + 1) * _CHUNK) % ctx.info.num_classes).astype(np.int32)
    chunks.append(np.asarray(sample(ctx.state, jax.random.fold_in(rng, i), _CHUNK, ctx.hp,
                                    cond if conditional else None)))
    requested.append(cond)
  x = np.concatenate(chunks)[:num]
  classifier = judge.load(ctx, cfg, "class_modes")
  classes = judged_classes(classifier, x)
  out = histogram_stats(classes, 10**x.shape[-1])
  out.update(num_samples=num, judge_accuracy=classifier.accuracy)
  if conditional:
    out["cond_accuracy"] = float(np.mean(classes == np.concatenate(requested)[:num]))
  return out
