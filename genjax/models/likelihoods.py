"""Per-example negative log-likelihoods of decoder outputs, in nats, summed over dimensions.

Decoders (model.likelihood): 'bernoulli' (logits; exact for binary x), 'binomial' (the same
logits read as Binomial(n, sigmoid(logits)) on the counts n x, for x on the grid k / n with
n = model.levels: a probability of grey-level images) and 'gaussian' (mean and log-scale).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.scipy import special

from genjax import config as gconfig
from genjax.core.dataset import DatasetInfo
from genjax.errors import ConfigError

LIKELIHOODS = ("bernoulli", "binomial", "gaussian")


def bernoulli_nll(logits_BX: jax.Array, x_BX: jax.Array) -> jax.Array:
  """-log Bernoulli(x | sigmoid(logits)) summed per example; exact for x in {0, 1}.

  For x in (0, 1) this is the cross-entropy commonly used for grey-level images: not a
  normalised density, so its bits/dim is a loss, not a likelihood (stated in evals).
  """
  logits = logits_BX.reshape(logits_BX.shape[0], -1)
  x = x_BX.reshape(x_BX.shape[0], -1)
  return jnp.sum(jnp.logaddexp(0.0, logits) - x * logits, axis=-1)


def binomial_nll(logits_BX: jax.Array, x_BX: jax.Array, n: int) -> jax.Array:
  """-log Binomial(n x | n, sigmoid(logits)) summed per example, for x on the grid k / n.

  Equal to n * bernoulli_nll(logits, x) - sum log C(n, n x): the grey-level cross-entropy
  scaled by n is, up to a constant of the data, a normalised probability of the counts
  n x in 0..n. n = 1 is the Bernoulli.
  """
  c = jnp.round(x_BX.reshape(x_BX.shape[0], -1) * n)  # the count; exact only on the grid
  log_choose = special.gammaln(n + 1.0) - special.gammaln(c + 1.0) - special.gammaln(n - c + 1.0)
  return n * bernoulli_nll(logits_BX, x_BX) - jnp.sum(log_choose, axis=-1)


def gaussian_nll(mean_BX: jax.Array, log_scale_BX: jax.Array, x_BX: jax.Array) -> jax.Array:
  """-log N(x | mean, exp(log_scale)^2) summed per example."""
  b = x_BX.shape[0]
  mean, log_scale, x = (a.reshape(b, -1) for a in (mean_BX, log_scale_BX, x_BX))
  z = (x - mean) * jnp.exp(-log_scale)
  return jnp.sum(0.5 * z**2 + log_scale + 0.5 * math.log(2 * math.pi), axis=-1)


def decoder_mean(out_BX: jax.Array, likelihood: str) -> jax.Array:
  """The mean of the decoder's distribution of x: sigmoid of logits, or the Gaussian mean.

  For the binomial, E[count / n] = sigmoid(logits), whatever n.
  """
  if likelihood in ("bernoulli", "binomial"):
    return jax.nn.sigmoid(out_BX)
  return jnp.split(out_BX, 2, axis=-1)[0]


def decoder_nll(out_BX: jax.Array, x_BX: jax.Array, likelihood: str,
                levels: int | None = None) -> jax.Array:
  """Per-example NLL for a decoder output (logits, or mean and log-scale stacked last).

  Args:
    out_BX: the decoder's output.
    x_BX: the data.
    likelihood: one of LIKELIHOODS.
    levels: the binomial's n (model.levels); needed by 'binomial' only.
  """
  if likelihood == "binomial":
    if levels is None:
      raise ConfigError("model.likelihood='binomial' needs model.levels, which this model "
                        "family does not pass on; use 'bernoulli' here (the vae and autoencoder families have 'binomial')")
    return binomial_nll(out_BX, x_BX, levels)
  if likelihood == "bernoulli":
    return bernoulli_nll(out_BX, x_BX)
  mean, log_scale = jnp.split(out_BX, 2, axis=-1)
  return gaussian_nll(mean, log_scale, x_BX)



def log_joint(out_NX: jax.Array, x_BX: jax.Array, z_SBD: jax.Array, likelihood: str,
              levels: int | None = None) -> jax.Array:
  """log p(x | z) + log N(z; 0, I) [S, B]: a latent-variable model's joint density.

  Args:
    out_NX: the decoder's outputs for the codes z_SBD flattened to [S * B, D].
    x_BX: the data; each example is scored against its S codes.
    z_SBD: S codes per example.
    likelihood: one of LIKELIHOODS.
    levels: the binomial's n (model.levels); needed by 'binomial' only.
  """
  s, b = z_SBD.shape[:2]
  x_rep = jnp.broadcast_to(x_BX, (s,) + x_BX.shape).reshape((s * b,) + x_BX.shape[1:])
  log_px_SB = -decoder_nll(out_NX, x_rep, likelihood, levels).reshape(s, b)
  log_pz_SB = -0.5 * jnp.sum(z_SBD**2 + math.log(2 * math.pi), -1)
  return log_px_SB + log_pz_SB

def decoder_levels(config, info: DatasetInfo) -> int | None:
  """The binomial decoder's n (model.levels) for a family to keep, or None for the other
  decoders; one ConfigError line when its counts n x would not be integers."""
  if config.model.likelihood != "binomial":
    return None
  levels = gconfig.optional(config, "model.levels")
  if not info.on_grid(levels):
    grid = f"k / {info.levels}" if info.levels else "no known grid (continuous)"
    fix = (f"set model.levels={info.levels} (or a multiple)" if info.levels
           else "use model.likelihood='gaussian'")
    raise ConfigError(f"model.likelihood='binomial' with model.levels={levels} needs x on the "
                      f"grid k / {levels}, but '{info.name}' has {grid}; {fix}")
  return int(levels)


def is_proper(likelihood: str, levels: int, info: DatasetInfo) -> bool:
  """True when the decoder's NLL is -log of a normalised distribution of this data's x.

  Bernoulli on binary data and binomial on its grid are probabilities of discrete values;
  a Gaussian on vector data is a density of continuous points. Bernoulli on grey levels is
  a cross-entropy of nothing, and a Gaussian on images an undequantised density of
  discrete values: neither compares with a probability (False).
  """
  if likelihood == "bernoulli":
    return info.binary
  if likelihood == "binomial":
    return info.on_grid(levels)
  return info.kind == "vector"
