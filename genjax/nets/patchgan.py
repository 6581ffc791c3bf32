"""The PatchGAN discriminator of pix2pix and CycleGAN: one real/fake logit per image patch.

A stack of 4x4 convolutions: `num_layers` with stride 2 (widths `channels`, doubling up to
8x), then one with stride 1 and a 1-channel output convolution. Each logit sees a patch of
the input: 16, 34 and 70 pixels wide for 1, 2 and 3 stride-2 layers (3 is the paper's 70x70
PatchGAN); judging patches rather than whole images models high-frequency structure with
few parameters, and leaves low frequencies to an L1 or cycle loss. Leaky ReLU (0.2), instance
norm on all but the first layer. A conditional discriminator (pix2pix) sees the input image
joined to the real or translated image on the channel axis.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.unet import instance_norm

_MAX_MULT = 8


class PatchGAN(nn.Module):
  """Image [B, H, W, C] (and optional condition [B, H, W, C']) -> logits [B, H', W'].

  Attributes:
    channels: width of the first layer (the paper's 64).
    num_layers: stride-2 layers; H' = H / 2**num_layers.
  """
  channels: int = 64
  num_layers: int = 3

  @nn.compact
  def __call__(self, y_BHWC: jax.Array, cond_BHWC: jax.Array | None = None) -> jax.Array:
    h = y_BHWC if cond_BHWC is None else jnp.concatenate([cond_BHWC, y_BHWC], axis=-1)
    for i in range(self.num_layers + 1):
      stride = 2 if i < self.num_layers else 1
      h = nn.Conv(self.channels * min(2**i, _MAX_MULT), (4, 4), strides=(stride, stride),
                  padding="SAME")(h)
      if i:
        h = instance_norm()(h)
      h = nn.leaky_relu(h, 0.2)
    return nn.Conv(1, (4, 4), padding="SAME")(h)[..., 0]
