"""2x spatial upsampling layers for decoders: the 4x4, stride-2 transposed convolution."""
from __future__ import annotations

import flax.linen as nn
import jax


class UpConv2x(nn.Module):
  """A 4x4 transposed convolution with stride 2: [B, H, W, C] -> [B, 2H, 2W, features].

  The decoder of Burgess et al. (2018) doubles the resolution with these layers.
  """
  features: int

  @nn.compact
  def __call__(self, x_BHWC: jax.Array) -> jax.Array:
    return nn.ConvTranspose(self.features, (4, 4), strides=(2, 2), padding="SAME")(x_BHWC)
