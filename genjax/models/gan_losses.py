"""Adversarial losses on discriminator logits, each as (discriminator loss, generator loss).

non_saturating: Goodfellow et al. 2014 with the -log D(G(z)) generator loss;
hinge: Lim & Ye 2017 / Miyato et al. 2018; least_squares: Mao et al. 2017 (a=0, b=c=1);
wasserstein: the critic's E[D(fake)] - E[D(real)] (Arjovsky et al. 2017), to be used with a
Lipschitz constraint such as the gradient penalty below (WGAN-GP, Gulrajani et al. 2017).
All are means over the batch. The regularisers of the discriminator live here too: R1, the
WGAN-GP gradient penalty and the LeCam penalty.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

LOSSES = ("non_saturating", "hinge", "least_squares", "wasserstein")


def discriminator_loss(kind: str, real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  if kind == "non_saturating":
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
  if kind == "hinge":
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))
  if kind == "least_squares":
    return 0.5 * jnp.mean((real_logits - 1.0) ** 2) + 0.5 * jnp.mean(fake_logits**2)
  if kind == "wasserstein":
    return jnp.mean(fake_logits) - jnp.mean(real_logits)
  raise ValueError(kind)


def generator_loss(kind: str, fake_logits: jax.Array) -> jax.Array:
  if kind == "non_saturating":
    return jnp.mean(jax.nn.softplus(-fake_logits))
  if kind == "hinge":
    return -jnp.mean(fake_logits)
  if kind == "least_squares":
    return 0.5 * jnp.mean((fake_logits - 1.0) ** 2)
  if kind == "wasserstein":
    return -jnp.mean(fake_logits)
  raise ValueError(kind)


def r1_penalty(disc_fn, x_real: jax.Array) -> jax.Array:
  """Mean over examples of ||grad_x D(x)||^2 on real data (Mescheder et al. 2018)."""
  grads = jax.grad(lambda x: jnp.sum(disc_fn(x)))(x_real)
  return jnp.mean(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=-1))


def interpolate(x_real: jax.Array, x_fake: jax.Array, eps_B: jax.Array) -> jax.Array:
  """eps x_real + (1 - eps) x_fake, one eps in [0, 1] per example (WGAN-GP's x_hat)."""
  eps = eps_B.reshape((-1,) + (1,) * (x_real.ndim - 1))
  return eps * x_real + (1.0 - eps) * x_fake


def gradient_penalty(disc_fn, x_hat: jax.Array, group: int = 1) -> jax.Array:
  """WGAN-GP: the mean over D's inputs of (||grad_x D(x_hat)|| - 1)^2 (Gulrajani et al. 2017).

  `disc_fn` maps [B, ...] to [B / group] outputs: with PacGAN packing D judges `group`
  consecutive examples as one input, so the norm is taken over each pack's gradient.
  """
  grads = jax.grad(lambda x: jnp.sum(disc_fn(x)))(x_hat)
  norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0] // group, -1) ** 2, axis=-1))
  return jnp.mean((norms - 1.0) ** 2)


def lecam_penalty(real_logits: jax.Array, fake_logits: jax.Array, anchor_real: jax.Array,
                  anchor_fake: jax.Array) -> jax.Array:
  """LeCam (Tseng et al. 2021): E||D(x) - anchor_fake||^2 + E||D(G(z)) - anchor_real||^2.

  The anchors are moving averages of D's mean output on fake and on real inputs; pulling
  each side towards the other side's average keeps D's outputs from drifting apart.
  """
  return (jnp.mean((real_logits - anchor_fake) ** 2)
          + jnp.mean((fake_logits - anchor_real) ** 2))
