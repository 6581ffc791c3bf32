"""DCGAN-style generator and discriminator (Radford et al. 2016), and label conditioning.

The generator maps a code (optionally joined with a label embedding) to an image in
[0, 1] through 4x4 stride-2 upsampling stages; the discriminator mirrors it with stride-2
convolutions and leaky ReLUs. Conditional discriminators use the projection of Miyato &
Koyama (2018): logit = w.h + <embed(y), h>. No batch norm: it would couple the examples
of a batch, which breaks PacGAN packing and makes vmapped populations awkward.

Discriminators take `spectral_norm=True` (Miyato et al. 2018): every Dense/Conv kernel is
divided by its largest singular value, estimated by one power iteration per call from a
persistent vector u (flax's `nn.SpectralNorm`), u and the estimate living in the
`SPECTRAL` collection. A call with `update_stats=True` (and that collection mutable)
returns the advanced u; every other call reads u and leaves it as it was.
"""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.conv import num_stages
from genjax.nets.upsample import UpConv2x

SPECTRAL = "spectral"  # the variable collection of the power iteration's u and sigma


def _layer(layer: nn.Module, spectral_norm: bool, x: jax.Array, update_stats: bool) -> jax.Array:
  """layer(x), with its kernel spectrally normalised when asked."""
  if not spectral_norm:
    return layer(x)
  return nn.SpectralNorm(layer, collection_name=SPECTRAL)(x, update_stats=update_stats)


class ConvGenerator(nn.Module):
  """Code [B, D] -> image [B, H, W, C] in [0, 1]."""
  out_shape: tuple[int, int, int]
  channels: int = 64

  @nn.compact
  def __call__(self, z_BD: jax.Array) -> jax.Array:
    side, _, out_channels = self.out_shape
    stages = num_stages(side)
    width = self.channels * 2 ** (stages - 1)
    h = nn.relu(nn.Dense(4 * 4 * width)(z_BD)).reshape(z_BD.shape[0], 4, 4, width)
    for i in range(stages - 1):
      h = nn.relu(UpConv2x(self.channels * 2 ** (stages - 2 - i))(h))
    return nn.sigmoid(UpConv2x(out_channels)(h))


class ConvDiscriminator(nn.Module):
  """Image [B, H, W, C] -> features [B, F] (the family adds the output head)."""
  channels: int = 64
  spectral_norm: bool = False

  @nn.compact
  def __call__(self, x_BHWC: jax.Array, update_stats: bool = False) -> jax.Array:
    h = x_BHWC
    for i in range(num_stages(x_BHWC.shape[1])):
      conv = nn.Conv(self.channels * 2**i, (4, 4), strides=(2, 2), padding="SAME")
      h = nn.leaky_relu(_layer(conv, self.spectral_norm, h, update_stats), 0.2)
    return h.reshape(h.shape[0], -1)


class MLPFeatures(nn.Module):
  """Vector [B, D] -> features [B, widths[-1]] with leaky ReLUs (a discriminator trunk)."""
  widths: Sequence[int]
  spectral_norm: bool = False

  @nn.compact
  def __call__(self, x_BD: jax.Array, update_stats: bool = False) -> jax.Array:
    h = x_BD.reshape(x_BD.shape[0], -1)
    for width in self.widths:
      h = nn.leaky_relu(_layer(nn.Dense(width), self.spectral_norm, h, update_stats), 0.2)
    return h


class Critic(nn.Module):
  """A trunk plus a linear head; with num_classes > 0, the projection term for labels.

  With spectral_norm the head is normalised too (the trunk carries its own flag); the
  label embedding is not a Dense/Conv weight and stays as it is.
  """
  trunk: nn.Module
  num_classes: int = 0
  spectral_norm: bool = False

  @nn.compact
  def __call__(self, x: jax.Array, label_B: jax.Array | None = None,
               update_stats: bool = False) -> jax.Array:
    h = self.trunk(x, update_stats=update_stats)
    logit = _layer(nn.Dense(1), self.spectral_norm, h, update_stats)[:, 0]
    if self.num_classes:
      embed = nn.Embed(self.num_classes, h.shape[-1])(label_B)
      logit = logit + jnp.sum(embed * h, axis=-1)
    return logit


class ConditionedGenerator(nn.Module):
  """Joins a learned label embedding to the code before the generator body."""
  body: nn.Module
  num_classes: int = 0
  embed_dim: int = 16

  @nn.compact
  def __call__(self, z_BD: jax.Array, label_B: jax.Array | None = None) -> jax.Array:
    if self.num_classes:
      z_BD = jnp.concatenate([z_BD, nn.Embed(self.num_classes, self.embed_dim)(label_B)], -1)
    return self.body(z_BD)
