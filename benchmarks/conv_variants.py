"""The earlier ways of writing the beta-VAE's stride-2 layers, kept so their timings reproduce.

`train_step.py --variants` swaps these into `genjax.nets.conv` in turn and times the same
train step with each (benchmarks/README.md has the table). Every variant computes the same
function as genjax's default layers; the sub-pixel one needs its kernel regrouped, which
only matters for equality, not for timing, so it keeps its own parameters.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import flax.linen as nn
import jax

from genjax.nets import conv
from genjax.nets.conv2x2 import pad1
from genjax.nets.downsample import DownConv2x, block_kernel, space_to_depth
from genjax.nets.upsample import UpConv2x, gather_phases, phase_kernel


class FlaxDown(nn.Module):
  """`nn.Conv` itself: XLA differentiates it through a dilated convolution."""
  features: int

  @nn.compact
  def __call__(self, x_BHWC):
    return nn.Conv(self.features, (4, 4), strides=(2, 2), padding="SAME")(x_BHWC)


class FlaxUp(nn.Module):
  """`nn.ConvTranspose` itself (genjax's first `UpConv2x`)."""
  features: int

  @nn.compact
  def __call__(self, x_BHWC):
    return nn.ConvTranspose(self.features, (4, 4), strides=(2, 2), padding="SAME")(x_BHWC)


class SubPixelUp(nn.Module):
  """3x3 stride-1 convolution to 4F channels, then depth-to-space (9/4 the multiplies)."""
  features: int

  @nn.compact
  def __call__(self, x_BHWC):
    b, h, w, _ = x_BHWC.shape
    f = self.features
    y = nn.Conv(4 * f, (3, 3), padding=((1, 1), (1, 1)))(x_BHWC)
    return y.reshape(b, h, w, 2, 2, f).transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * w, f)


def _conv_valid(x, w):
  return jax.lax.conv_general_dilated(x, w, (1, 1), "VALID",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


class PhaseUpAutodiff(nn.Module):
  """genjax's phase decomposition, but XLA's own 2x2 convolution and its automatic gradient."""
  features: int

  @nn.compact
  def __call__(self, x_BHWC):
    b, h, w, c = x_BHWC.shape
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (4, 4, c, self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    z = _conv_valid(pad1(x_BHWC), phase_kernel(kernel))
    return gather_phases(z.reshape(b, h + 1, w + 1, 2, 2, self.features)) + bias


class BlockDownAutodiff(nn.Module):
  """genjax's space-to-depth form, but XLA's own 2x2 convolution and its automatic gradient."""
  features: int

  @nn.compact
  def __call__(self, x_BHWC):
    c = x_BHWC.shape[-1]
    kernel = self.param("kernel", nn.initializers.lecun_normal(), (4, 4, c, self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    return _conv_valid(space_to_depth(pad1(x_BHWC)), block_kernel(kernel)) + bias


# name -> (encoder layer, decoder layer); 'default' is what genjax uses.
VARIANTS = {
    "flax": (FlaxDown, FlaxUp),
    "flax_down+subpixel_up": (FlaxDown, SubPixelUp),
    "flax_down+phase_up_autodiff": (FlaxDown, PhaseUpAutodiff),
    "flax_down+phase_up": (FlaxDown, UpConv2x),
    "block_down_autodiff+phase_up": (BlockDownAutodiff, UpConv2x),
    "default": (DownConv2x, UpConv2x),
}


@contextlib.contextmanager
def layers(name: str) -> Iterator[None]:
  """Builds `conv.ConvEncoder`/`ConvDecoder` with variant `name`'s layers inside the block."""
  down, up = VARIANTS[name]
  saved = conv.DownConv2x, conv.UpConv2x
  conv.DownConv2x, conv.UpConv2x = down, up
  try:
    yield
  finally:
    conv.DownConv2x, conv.UpConv2x = saved

