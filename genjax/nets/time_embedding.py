"""Sinusoidal embeddings of diffusion timesteps, and their projection to a conditioning vector."""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

_MAX_PERIOD = 10_000.0


def sinusoidal(t_B: jax.Array, dim: int, max_period: float = _MAX_PERIOD) -> jax.Array:
  """The transformer position encoding of timesteps (Vaswani et al. 2017; Ho et al. 2020).

  Frequencies run geometrically from 1 to 1 / max_period, so both neighbouring steps and
  the whole range of T are told apart.

  Args:
    t_B: [B] timesteps (integers or floats).
    dim: embedding width (even).

  Returns:
    [B, dim] float32: the sines of all frequencies, then the cosines.
  """
  half = dim // 2
  freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
  angles_BH = t_B.astype(jnp.float32)[:, None] * freqs[None, :]
  return jnp.concatenate([jnp.sin(angles_BH), jnp.cos(angles_BH)], axis=-1)


class TimeEmbedding(nn.Module):
  """Timesteps (and optionally labels) -> a conditioning vector [B, width].

  Labels take values in [0, num_classes]; the extra value num_classes is the "no label"
  token that classifier-free guidance trains by label dropout.

  Attributes:
    width: output width.
    num_classes: number of real classes, 0 for an unconditional model.
  """
  width: int
  num_classes: int = 0

  @nn.compact
  def __call__(self, t_B: jax.Array, label_B: jax.Array | None = None,
               dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """The embedding; `dtype` is the network's compute dtype, given to the sinusoidal
    features (always computed in float32: bfloat16 would round angles up to 1000)."""
    h = nn.Dense(self.width)(sinusoidal(t_B, self.width).astype(dtype))
    h = nn.Dense(self.width)(nn.silu(h))
    if self.num_classes:
      h = h + nn.Embed(self.num_classes + 1, self.width)(label_B)
    return h
