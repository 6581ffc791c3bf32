"""Noise-prediction networks f(x_t, t, label): a U-Net for images and a residual MLP for points.

The U-Net follows Ho et al. (2020): residual blocks with GroupNorm and SiLU, the time (and
label) embedding added inside every block, stride-2 convolutions down, nearest-neighbour
upsampling plus a 3x3 convolution up (no transposed convolutions: no checkerboard and
cheaper on CPU), skip connections concatenated, and self-attention at the lowest
resolution. Output layers start at zero, so an untrained model predicts eps = 0.
"""
from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.time_embedding import TimeEmbedding

_MAX_GROUPS = 32


def _groups(channels: int) -> int:
  """The largest group count <= 32 that divides `channels` (narrow test nets stay valid)."""
  return math.gcd(channels, _MAX_GROUPS)


def _norm(channels: int) -> nn.GroupNorm:
  return nn.GroupNorm(num_groups=_groups(channels))


class ResBlock(nn.Module):
  """GroupNorm-SiLU-conv twice, the embedding added in between, plus a (projected) skip."""
  channels: int

  @nn.compact
  def __call__(self, x_BHWC: jax.Array, emb_BE: jax.Array) -> jax.Array:
    h = nn.Conv(self.channels, (3, 3))(nn.silu(_norm(x_BHWC.shape[-1])(x_BHWC)))
    h = h + nn.Dense(self.channels)(nn.silu(emb_BE))[:, None, None, :]
    h = nn.silu(_norm(self.channels)(h))
    h = nn.Conv(self.channels, (3, 3), kernel_init=nn.initializers.zeros)(h)
    skip = x_BHWC
    if x_BHWC.shape[-1] != self.channels:
      skip = nn.Conv(self.channels, (1, 1))(x_BHWC)
    return skip + h


class AttentionBlock(nn.Module):
  """Single-head self-attention over all positions, residual (the output starts at zero)."""

  @nn.compact
  def __call__(self, x_BHWC: jax.Array) -> jax.Array:
    b, hgt, wid, c = x_BHWC.shape
    h = _norm(c)(x_BHWC).reshape(b, hgt * wid, c)
    q, k, v = jnp.split(nn.Dense(3 * c)(h), 3, axis=-1)
    weights_BNN = jax.nn.softmax(jnp.einsum("bnc,bmc->bnm", q, k) / math.sqrt(c), axis=-1)
    out = jnp.einsum("bnm,bmc->bnc", weights_BNN, v)
    out = nn.Dense(c, kernel_init=nn.initializers.zeros)(out)
    return x_BHWC + out.reshape(b, hgt, wid, c)


def _upsample(x_BHWC: jax.Array) -> jax.Array:
  return jnp.repeat(jnp.repeat(x_BHWC, 2, axis=1), 2, axis=2)


class UNet(nn.Module):
  """Image x_t [B, H, W, C] and timestep [B] (and label [B]) -> prediction [B, H, W, C].

  Attributes:
    channels: width of the first level.
    channel_mults: width multiplier per level; each level after the first halves H and W.
    num_res_blocks: residual blocks per level on the way down (one more on the way up).
    num_classes: number of real classes, 0 for an unconditional model.
  """
  channels: int = 32
  channel_mults: Sequence[int] = (1, 2)
  num_res_blocks: int = 1
  num_classes: int = 0

  @nn.compact
  def __call__(self, x_BHWC: jax.Array, t_B: jax.Array,
               label_B: jax.Array | None = None) -> jax.Array:
    emb = TimeEmbedding(4 * self.channels, self.num_classes)(t_B, label_B, x_BHWC.dtype)
    h = nn.Conv(self.channels, (3, 3))(x_BHWC)
    skips = [h]
    last = len(self.channel_mults) - 1
    for level, mult in enumerate(self.channel_mults):
      for _ in range(self.num_res_blocks):
        h = ResBlock(self.channels * mult)(h, emb)
        skips.append(h)
      if level != last:
        h = nn.Conv(h.shape[-1], (3, 3), strides=(2, 2))(h)
        skips.append(h)
    h = ResBlock(h.shape[-1])(h, emb)
    h = AttentionBlock()(h)
    h = ResBlock(h.shape[-1])(h, emb)
    for level in reversed(range(len(self.channel_mults))):
      for _ in range(self.num_res_blocks + 1):
        h = ResBlock(self.channels * self.channel_mults[level])(
            jnp.concatenate([h, skips.pop()], axis=-1), emb)
      if level:
        h = nn.Conv(h.shape[-1], (3, 3))(_upsample(h))
    h = nn.silu(_norm(h.shape[-1])(h))
    return nn.Conv(x_BHWC.shape[-1], (3, 3), kernel_init=nn.initializers.zeros)(h)


class TimeMLP(nn.Module):
  """Point x_t [B, D] and timestep [B] (and label [B]) -> prediction [B, D].

  Residual blocks of two dense layers, the embedding added between them: the toy-data
  counterpart of the U-Net's blocks.

  Attributes:
    widths: width of each residual block (a change of width projects the skip).
    num_classes: number of real classes, 0 for an unconditional model.
  """
  widths: Sequence[int] = (256, 256, 256)
  num_classes: int = 0

  @nn.compact
  def __call__(self, x_BD: jax.Array, t_B: jax.Array,
               label_B: jax.Array | None = None) -> jax.Array:
    emb = TimeEmbedding(self.widths[0], self.num_classes)(t_B, label_B, x_BD.dtype)
    h = nn.Dense(self.widths[0])(x_BD)
    for width in self.widths:
      skip = h if h.shape[-1] == width else nn.Dense(width)(h)
      inner = nn.Dense(width)(nn.silu(h)) + nn.Dense(width)(nn.silu(emb))
      h = skip + nn.Dense(width)(nn.silu(inner))
    return nn.Dense(x_BD.shape[-1], kernel_init=nn.initializers.zeros)(nn.silu(h))
