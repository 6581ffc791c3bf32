"""2x spatial downsampling for encoders: the 4x4, stride-2 'SAME' convolution, computed fast.

`DownConv2x` is exactly `nn.Conv(features, (4, 4), strides=(2, 2), padding='SAME')` on
even-sized inputs (the encoder layer of Burgess et al. 2018), with the same parameters and
initialisation, rewritten because XLA:CPU's gradient of a strided convolution goes through a
dilated convolution that costs ~10x the forward pass.

'SAME' pads one pixel on each side, and output pixel m reads padded rows 2m .. 2m + 3, i.e.
the 2x2 blocks m and m + 1 of the padded input. After space-to-depth (each 2x2 block becomes
one pixel of 4C channels) the layer is therefore a 2x2 stride-1 convolution (`conv2x2`)
whose kernel is the 4x4 one regrouped: tap (p, q) holds k[2p + r, 2q + s] for the block
position (r, s). No multiply is wasted. Benchmarks: benchmarks/README.md.
"""
from __future__ import annotations

import flax.linen as nn
import jax

from genjax.nets.conv2x2 import conv2x2, pad1


def space_to_depth(x_BHWC: jax.Array) -> jax.Array:
  """[B, H, W, C] -> [B, H/2, W/2, 4C]: each 2x2 block becomes a pixel, channels (r, s, c)."""
  b, h, w, c = x_BHWC.shape
  x_BHRWSC = x_BHWC.reshape(b, h // 2, 2, w // 2, 2, c)
  return x_BHRWSC.transpose(0, 1, 3, 2, 4, 5).reshape(b, h // 2, w // 2, 4 * c)


def block_kernel(kernel_44CF: jax.Array) -> jax.Array:
  """The 4x4 stride-2 kernel as the 2x2 kernel of `conv2x2` on space-to-depth input.

  out[p, q, (r, s, :), :] = kernel[2p + r, 2q + s]: [2, 2, 4C, F].
  """
  _, _, cin, f = kernel_44CF.shape
  # Each 4-tap axis splits as 2 * block tap + position in block: axes [p, r, q, s, in, out].
  k_split = kernel_44CF.reshape(2, 2, 2, 2, cin, f)
  return k_split.transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * cin, f)


class DownConv2x(nn.Module):
  """A 4x4 'SAME' convolution with stride 2: [B, H, W, C] -> [B, H/2, W/2, features].

  Parameters `kernel` [4, 4, C, features] and `bias` [features] are those of
  `nn.Conv(features, (4, 4), strides=(2, 2), padding='SAME')`, initialised alike (LeCun
  normal, zeros), so that module's parameters load unchanged.

  Attributes:
    features: output channels.
  """
  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros

  @nn.compact
  def __call__(self, x_BHWC: jax.Array) -> jax.Array:
    _, h, w, c = x_BHWC.shape
    if h % 2 or w % 2:
      raise ValueError(f"DownConv2x needs an even height and width, got {h}x{w}")
    kernel = self.param("kernel", self.kernel_init, (4, 4, c, self.features))
    bias = self.param("bias", self.bias_init, (self.features,))
    x_BHWC, kernel, bias = nn.dtypes.promote_dtype(x_BHWC, kernel, bias)
    return conv2x2(space_to_depth(pad1(x_BHWC)), block_kernel(kernel)) + bias
