"""The convolutional encoder and decoder of disentanglement_lib (Locatello et al. 2019).

They differ from Burgess et al.'s nets (`genjax.nets.conv`), which keep 32 channels and two
dense layers of 256, so a study that stands beside Locatello et al.'s figures uses these:

  encoder: conv 32 (4x4, stride 2) -> conv 32 (4x4, s2) -> conv 64 (2x2, s2) -> conv 64
           (2x2, s2), ReLU after each, 'SAME' padding; dense 256, ReLU; dense out_dim
  decoder: dense 256, ReLU; dense 1024 = 4x4x64, ReLU; transposed conv 64, 32, 32 (4x4,
           stride 2, ReLU) and a last transposed conv to the image channels (4x4, stride 2)

as in disentanglement_lib/methods/shared/architectures.py (`conv_encoder`, `deconv_decoder`).
They are defined for 64x64 images only, as there. A 2x2 stride-2 'SAME' convolution on an
even side needs no padding: it is space-to-depth followed by one dense layer, which is how
it is computed here (no strided-convolution gradient on XLA:CPU).
"""
from __future__ import annotations

import flax.linen as nn
import jax

from genjax.nets.downsample import DownConv2x, space_to_depth
from genjax.nets.upsample import UpConv2x

SIDE = 64


class Patch2x(nn.Module):
  """A 2x2 convolution with stride 2 ('SAME' = 'VALID' on even sides): [B, H, W, C] ->
  [B, H/2, W/2, features]. Parameters `kernel` [2, 2, C, features] and `bias` are those of
  `nn.Conv(features, (2, 2), strides=(2, 2))`, initialised alike (LeCun normal, zeros)."""
  features: int

  @nn.compact
  def __call__(self, x_BHWC: jax.Array) -> jax.Array:
    _, h, w, c = x_BHWC.shape
    if h % 2 or w % 2:
      raise ValueError(f"Patch2x needs an even height and width, got {h}x{w}")
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (2, 2, c, self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    x_BHWC, kernel, bias = nn.dtypes.promote_dtype(x_BHWC, kernel, bias)
    # space_to_depth orders each block's channels (row, column, c): the kernel's own order.
    return space_to_depth(x_BHWC) @ kernel.reshape(4 * c, self.features) + bias


def check_side(side: int) -> None:
  if side != SIDE:
    raise ValueError(f"the disentanglement_lib nets take {SIDE}x{SIDE} images, got {side}")


class DislibConvEncoder(nn.Module):
  """Image [B, 64, 64, C] -> vector [B, out_dim] (means and log-variances side by side)."""
  out_dim: int

  @nn.compact
  def __call__(self, x_BHWC: jax.Array) -> jax.Array:
    check_side(x_BHWC.shape[1])
    h = nn.relu(DownConv2x(32)(x_BHWC))
    h = nn.relu(DownConv2x(32)(h))
    h = nn.relu(Patch2x(64)(h))
    h = nn.relu(Patch2x(64)(h))
    h = nn.relu(nn.Dense(256)(h.reshape(h.shape[0], -1)))
    return nn.Dense(self.out_dim)(h)


class DislibConvDecoder(nn.Module):
  """Vector [B, D] -> image logits [B, 64, 64, C]."""
  out_shape: tuple[int, int, int]

  @nn.compact
  def __call__(self, z_BD: jax.Array) -> jax.Array:
    side, _, out_channels = self.out_shape
    check_side(side)
    h = nn.relu(nn.Dense(256)(z_BD))
    h = nn.relu(nn.Dense(4 * 4 * 64)(h)).reshape(z_BD.shape[0], 4, 4, 64)
    for features in (64, 32, 32):
      h = nn.relu(UpConv2x(features)(h))
    return UpConv2x(out_channels)(h)
