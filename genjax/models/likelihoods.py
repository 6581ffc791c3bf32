"""Per-example negative log-likelihoods of decoder outputs, in nats, summed over dimensions."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def bernoulli_nll(logits_BX: jax.Array, x_BX: jax.Array) -> jax.Array:
  """-log Bernoulli(x | sigmoid(logits)) summed per example; exact for x in {0, 1}.

  For x in (0, 1) this is the cross-entropy commonly used for grey-level images: not a
  normalised density, so its bits/dim is a loss, not a likelihood (stated in evals).
  """
  logits = logits_BX.reshape(logits_BX.shape[0], -1)
  x = x_BX.reshape(x_BX.shape[0], -1)
  return jnp.sum(jnp.logaddexp(0.0, logits) - x * logits, axis=-1)


def gaussian_nll(mean_BX: jax.Array, log_scale_BX: jax.Array, x_BX: jax.Array) -> jax.Array:
  """-log N(x | mean, exp(log_scale)^2) summed per example."""
  b = x_BX.shape[0]
  mean, log_scale, x = (a.reshape(b, -1) for a in (mean_BX, log_scale_BX, x_BX))
  z = (x - mean) * jnp.exp(-log_scale)
  return jnp.sum(0.5 * z**2 + log_scale + 0.5 * math.log(2 * math.pi), axis=-1)


def decoder_mean(out_BX: jax.Array, likelihood: str) -> jax.Array:
  """The mean of the decoder's distribution: sigmoid of logits, or the Gaussian mean."""
  if likelihood == "bernoulli":
    return jax.nn.sigmoid(out_BX)
  return jnp.split(out_BX, 2, axis=-1)[0]


def decoder_nll(out_BX: jax.Array, x_BX: jax.Array, likelihood: str) -> jax.Array:
  """Per-example NLL for a decoder output (logits, or mean and log-scale stacked last)."""
  if likelihood == "bernoulli":
    return bernoulli_nll(out_BX, x_BX)
  mean, log_scale = jnp.split(out_BX, 2, axis=-1)
  return gaussian_nll(mean, log_scale, x_BX)
