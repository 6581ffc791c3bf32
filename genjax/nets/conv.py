"""The convolutional encoder and decoder of the beta-VAE papers (Burgess et al. 2018).

Encoder: stride-2 4x4 convolutions (32 channels) down to 4x4, two dense layers of 256,
then a dense output. Decoder: the mirror image, with 4x4 stride-2 transposed convolutions
(`UpConv2x`). The number of stride-2 stages follows from the image side (64 -> 4 stages,
32 -> 3, 16 -> 2), so the same module serves every resolution.
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax

from genjax.nets.downsample import DownConv2x
from genjax.nets.upsample import UpConv2x

_BOTTOM_SIDE = 4


def num_stages(side: int) -> int:
  """Number of stride-2 stages that take an image of `side` pixels down to 4x4."""
  stages = int(round(math.log2(side / _BOTTOM_SIDE)))
  if side < 8 or _BOTTOM_SIDE * 2**stages != side:
    raise ValueError(f"image side {side} must be 4 * 2**k with k >= 1")
  return stages


class ConvEncoder(nn.Module):
  """Image [B, H, W, C] -> vector [B, out_dim].

  Attributes:
    out_dim: output width (2 x latent size for a Gaussian posterior).
    channels: channels of every convolution.
    hidden: width of the two dense layers.
  """
  out_dim: int
  channels: int = 32
  hidden: int = 256

  @nn.compact
  def __call__(self, x_BHWC: jax.Array) -> jax.Array:
    h = x_BHWC
    for _ in range(num_stages(x_BHWC.shape[1])):
      h = nn.relu(DownConv2x(self.channels)(h))
    h = h.reshape(h.shape[0], -1)
    h = nn.relu(nn.Dense(self.hidden)(h))
    h = nn.relu(nn.Dense(self.hidden)(h))
    return nn.Dense(self.out_dim)(h)


class ConvDecoder(nn.Module):
  """Vector [B, D] -> image logits or means [B, H, W, C].

  Attributes:
    out_shape: (H, W, C) of the output image.
    channels: channels of every transposed convolution but the last.
    hidden: width of the two dense layers.
  """
  out_shape: tuple[int, int, int]
  channels: int = 32
  hidden: int = 256

  @nn.compact
  def __call__(self, z_BD: jax.Array) -> jax.Array:
    side, _, out_channels = self.out_shape
    stages = num_stages(side)
    h = nn.relu(nn.Dense(self.hidden)(z_BD))
    h = nn.relu(nn.Dense(self.hidden)(h))
    h = nn.relu(nn.Dense(_BOTTOM_SIDE * _BOTTOM_SIDE * self.channels)(h))
    h = h.reshape(h.shape[0], _BOTTOM_SIDE, _BOTTOM_SIDE, self.channels)
    for _ in range(stages - 1):
      h = nn.relu(UpConv2x(self.channels)(h))
    return UpConv2x(out_channels)(h)
