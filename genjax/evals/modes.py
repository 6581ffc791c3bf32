"""The `modes` evaluator for 2D mixtures: modes covered, high-quality share, reverse KL.

Protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018): draw
`num_samples` (100,000) samples, assign each to its nearest mixture mean; a sample is
high quality when it lies within 3 standard deviations of that mean; a mode is covered
when at least `min_count` (1) high-quality samples land on it. The reverse KL is
KL(p_model || uniform) over the modes, with p_model the histogram of high-quality
samples (0 for a perfect spread, log K when all fall on one mode).
"""
from __future__ import annotations

import jax
import numpy as np

from genjax.core import family as contract
from genjax.data import toy2d
from genjax.errors import ConfigError
from genjax.evals.context import EvalContext
from genjax.evals import progress

_CHUNK = 10_000


def mode_stats(samples_N2: np.ndarray, means_K2: np.ndarray, std: float,
               min_count: int = 1) -> dict[str, float]:
  """Mode coverage statistics of samples against a Gaussian mixture with equal stds."""
  d2 = ((samples_N2[:, None, :] - means_K2[None, :, :]) ** 2).sum(-1)
  nearest = d2.argmin(1)
  high_quality = np.sqrt(d2[np.arange(len(nearest)), nearest]) <= 3 * std
  counts = np.bincount(nearest[high_quality], minlength=len(means_K2))
  k = len(means_K2)
  if counts.sum():
    p = counts / counts.sum()
    nz = p > 0
    reverse_kl = float(np.sum(p[nz] * np.log(p[nz] * k)))
  else:
    reverse_kl = float("inf")
  return {"modes": int((counts >= min_count).sum()), "num_modes": k,
          "high_quality": float(high_quality.mean()), "reverse_kl": reverse_kl,
          "num_samples": int(len(samples_N2))}


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  ctx.require(contract.Sampler, evaluator="modes")
  if ctx.config.data.name != "toy2d" or ctx.config.data.toy not in ("ring8", "grid25"):
    raise ConfigError("evaluator 'modes' needs a toy2d mixture (data.toy = ring8 or grid25); "
                      "use 'class_modes' for images")
  num = int(cfg.get("num_samples", 100_000))
  sample = ctx.jit("sample", static_argnums=(2,))
  rng = jax.random.fold_in(ctx.rng, 7)
  chunks = [np.asarray(sample(ctx.state, jax.random.fold_in(rng, i), _CHUNK, ctx.hp))
            for i in progress.chunks(num, _CHUNK, "modes sampling")]
  samples = np.concatenate(chunks)[:num]
  means, std = toy2d.mixture(ctx.config.data.toy)
  return mode_stats(samples, means, std, int(cfg.get("min_count", 1)))
