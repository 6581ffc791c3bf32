"""Adversarial losses on discriminator logits, each as (discriminator loss, generator loss).

non_saturating: Goodfellow et al. 2014 with the -log D(G(z)) generator loss;
hinge: Lim & Ye 2017 / Miyato et al. 2018; least_squares: Mao et al. 2017 (a=0, b=c=1).
All are means over the batch.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

LOSSES = ("non_saturating", "hinge", "least_squares")


def discriminator_loss(kind: str, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  if kind == "non_saturating":
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
  if kind == "hinge":
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))
  if kind == "least_squares":
    return 0.5 * jnp.mean((real_logits - 1.0) ** 2) + 0.5 * jnp.mean(fake_logits**2)
  raise ValueError(kind)


def generator_loss(kind: str, fake_logits: jax.Array) -> jax.Array:
  if kind == "non_saturating":
    return jnp.mean(jax.nn.softplus(-fake_logits))
  if kind == "hinge":
    return -jnp.mean(fake_logits)
  if kind == "least_squares":
    return 0.5 * jnp.mean((fake_logits - 1.0) ** 2)
  raise ValueError(kind)


def r1_penalty(disc_fn, x_real: jax.Array) -> jax.Array:
  """Mean over examples of ||grad_x D(x)||^2 on real data (Mescheder et al. 2018)."""
  grads = jax.grad(lambda x: jnp.sum(disc_fn(x)))(x_real)
  return jnp.mean(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=-1))
