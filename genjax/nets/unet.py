"""The U-Net generator of pix2pix (Isola et al. 2017): an encoder-decoder with skip connections.

Encoder: 4x4 stride-2 convolutions from `channels` doubling up to 8x `channels`, down to a
1x1 bottleneck (a 32-pixel image has 5 levels, 256 pixels the paper's 8), leaky ReLU (0.2)
before each but the first. Decoder: ReLU, a 4x4 stride-2 transposed convolution (`UpConv2x`),
norm, then the encoder output of the same resolution joined on channels, so low-level detail
(here, where the outlines run) bypasses the bottleneck. Instance norm replaces the paper's
batch norm (at its batch size of 1 they coincide) and is left out of the first layer and the
1x1 bottleneck, where it would erase the signal. Dropout (the paper's noise source, 0.5 in
the three decoder blocks next to the bottleneck) is off unless `dropout` > 0.
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.upsample import UpConv2x

_MAX_MULT = 8
_DROPOUT_BLOCKS = 3


def unet_depth(side: int) -> int:
  """Number of stride-2 levels that take a `side`-pixel image down to 1x1."""
  depth = int(round(math.log2(side))) if side > 0 else 0
  if side < 8 or 2**depth != side:
    raise ValueError(f"U-Net image side {side} must be a power of two >= 8")
  return depth


def instance_norm() -> nn.Module:
  """Per-example, per-channel normalisation over space (GroupNorm with one channel a group)."""
  return nn.GroupNorm(num_groups=None, group_size=1)


class UNet(nn.Module):
  """Image [B, H, W, C] -> image [B, H, W, out_channels] in [0, 1].

  Attributes:
    out_channels: channels of the output image.
    channels: width of the first level (the paper's 64); deeper levels double it up to 8x.
    dropout: dropout rate in the decoder blocks next to the bottleneck (0 = deterministic).
  """
  out_channels: int
  channels: int = 64
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x_BHWC: jax.Array, train: bool = False) -> jax.Array:
    depth = unet_depth(x_BHWC.shape[1])
    widths = [self.channels * min(2**i, _MAX_MULT) for i in range(depth)]
    skips, h = [], x_BHWC
    for i, width in enumerate(widths):
      if i:
        h = nn.leaky_relu(h, 0.2)
      h = nn.Conv(width, (4, 4), strides=(2, 2), padding="SAME")(h)
      if 0 < i < depth - 1:
        h = instance_norm()(h)
      skips.append(h)
    for i in reversed(range(depth - 1)):  # back up to the resolution of skips[i]
      h = instance_norm()(UpConv2x(widths[i])(nn.relu(h)))
      if self.dropout and i >= depth - 1 - _DROPOUT_BLOCKS:
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
      h = jnp.concatenate([h, skips[i]], axis=-1)
    return nn.sigmoid(UpConv2x(self.out_channels)(nn.relu(h)))
