"""The ResNet-block generator of CycleGAN (Zhu et al. 2017, after Johnson et al. 2016).

c7s1-k, d2k, d4k, R4k x num_blocks, u2k, uk, c7s1-out: a 7x7 convolution, two 3x3 stride-2
downsamples, residual blocks of two 3x3 convolutions at a quarter of the resolution, two
2x upsamples (`UpConv2x`, our 4x4 transposed convolution, where the paper has 3x3 ones) and
a 7x7 output convolution. Reflection padding at the 7x7 and residual convolutions, as in the
paper, keeps borders free of zero-padding artefacts. Instance norm throughout (never batch
norm: it would couple the examples of a batch). Outputs go through a sigmoid into [0, 1].
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.unet import instance_norm
from genjax.nets.upsample import UpConv2x


def reflect_conv(x_BHWC: jax.Array, features: int, kernel: int) -> jax.Array:
  """A stride-1 convolution over a reflection-padded input (same spatial size out)."""
  p = kernel // 2
  x_BHWC = jnp.pad(x_BHWC, ((0, 0), (p, p), (p, p), (0, 0)), mode="reflect")
  return nn.Conv(features, (kernel, kernel), padding="VALID")(x_BHWC)


class ResidualBlock(nn.Module):
  """x + norm(conv(relu(norm(conv(x))))), channels unchanged."""

  @nn.compact
  def __call__(self, x_BHWC: jax.Array) -> jax.Array:
    c = x_BHWC.shape[-1]
    h = nn.relu(instance_norm()(reflect_conv(x_BHWC, c, 3)))
    return x_BHWC + instance_norm()(reflect_conv(h, c, 3))


class ResnetGenerator(nn.Module):
  """Image [B, H, W, C] -> image [B, H, W, out_channels] in [0, 1]; H, W multiples of 4.

  Attributes:
    out_channels: channels of the output image.
    channels: width of the first convolution (the paper's 64); 2x and 4x after the downsamples.
    num_blocks: residual blocks (the paper: 6 at 128 pixels, 9 at 256).
  """
  out_channels: int
  channels: int = 64
  num_blocks: int = 9

  @nn.compact
  def __call__(self, x_BHWC: jax.Array) -> jax.Array:
    if x_BHWC.shape[1] % 4 or x_BHWC.shape[2] % 4 or min(x_BHWC.shape[1:3]) < 8:
      raise ValueError(f"ResNet generator needs sides that are multiples of 4 and >= 8; got "
                       f"{x_BHWC.shape[1:3]}")
    h = nn.relu(instance_norm()(reflect_conv(x_BHWC, self.channels, 7)))
    for mult in (2, 4):
      h = nn.Conv(self.channels * mult, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))(h)
      h = nn.relu(instance_norm()(h))
    for _ in range(self.num_blocks):
      h = ResidualBlock()(h)
    for mult in (2, 1):
      h = nn.relu(instance_norm()(UpConv2x(self.channels * mult)(h)))
    return nn.sigmoid(reflect_conv(h, self.out_channels, 7))
