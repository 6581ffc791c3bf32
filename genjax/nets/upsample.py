"""2x spatial upsampling for decoders: the 4x4, stride-2 transposed convolution, computed fast.

`UpConv2x` is exactly `nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding='SAME')`
(the decoder layer of Burgess et al. 2018), with the same parameters and initialisation,
rewritten because XLA:CPU's gradient of a transposed convolution costs ~10x its forward pass.

Each output pixel (2m + a, 2n + c) sees a 2x2 window of the input, at an offset set by its
phase (a, c) in {0, 1}^2, weighted by the kernel taps of the same parity:

  y[2m + a, 2n + c] = sum_{p, q in {0, 1}} xpad[m + a + p, n + c + q] @ k[2p + a, 2q + c]

with xpad the input zero-padded by one. So one 2x2 stride-1 convolution of xpad to 4F
channels (all four phases at once; `conv2x2`) followed by a gather of each phase at its
offset gives the transposed convolution with no wasted multiply (a 3x3 sub-pixel convolution
would spend 9/4 as many). Benchmarks: benchmarks/README.md.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from genjax.nets.conv2x2 import conv2x2


def phase_kernel(kernel_44CF: jax.Array) -> jax.Array:
  """The 4x4 transposed-convolution kernel as the 2x2 kernel of `conv2x2` [2, 2, C, 4F].

  out[p, q, :, (a, c, f)] = kernel[2p + a, 2q + c, :, f]: output channels are phase-major.
  """
  _, _, cin, f = kernel_44CF.shape
  # Each 4-tap axis splits as 2 * tap + phase: axes [p, a, q, c, in, out].
  k_split = kernel_44CF.reshape(2, 2, 2, 2, cin, f)
  return k_split.transpose(0, 2, 4, 1, 3, 5).reshape(2, 2, cin, 4 * f)


def _gather_phases_impl(z_BHW22F: jax.Array) -> jax.Array:
  b, h1, w1, _, _, f = z_BHW22F.shape
  h, w = h1 - 1, w1 - 1
  rows = [jnp.stack([z_BHW22F[:, a:a + h, c:c + w, a, c] for c in (0, 1)], axis=3)
          for a in (0, 1)]
  return jnp.stack(rows, axis=2).reshape(b, 2 * h, 2 * w, f)


@jax.custom_vjp
def gather_phases(z_BHW22F: jax.Array) -> jax.Array:
  """y[b, 2m + a, 2n + c] = z[b, m + a, n + c, a, c]: [B, 2(H-1), 2(W-1), F].

  Its transpose is written out because the automatic one adds four full-size zero-padded
  copies together; ours builds the padded phases in one stack.
  """
  return _gather_phases_impl(z_BHW22F)


def _gather_phases_fwd(z_BHW22F):
  return _gather_phases_impl(z_BHW22F), None


def _gather_phases_bwd(_, dy_BHWF):
  b, h2, w2, f = dy_BHWF.shape
  dy_BHAWCF = dy_BHWF.reshape(b, h2 // 2, 2, w2 // 2, 2, f)
  rows = [jnp.stack([jnp.pad(dy_BHAWCF[:, :, a, :, c], ((0, 0), (a, 1 - a), (c, 1 - c), (0, 0)))
                     for c in (0, 1)], axis=3)
          for a in (0, 1)]
  return (jnp.stack(rows, axis=3),)


gather_phases.defvjp(_gather_phases_fwd, _gather_phases_bwd)


class UpConv2x(nn.Module):
  """A 4x4 transposed convolution with stride 2: [B, H, W, C] -> [B, 2H, 2W, features].

  Parameters `kernel` [4, 4, C, features] and `bias` [features] are those of
  `nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding='SAME')`, initialised alike
  (LeCun normal, zeros); `params_from_conv_transpose` converts that module's parameters.

  Attributes:
    features: output channels.
  """
  features: int
  kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()
  bias_init: nn.initializers.Initializer = nn.initializers.zeros

  @nn.compact
  def __call__(self, x_BHWC: jax.Array) -> jax.Array:
    b, h, w, c = x_BHWC.shape
    kernel = self.param("kernel", self.kernel_init, (4, 4, c, self.features))
    bias = self.param("bias", self.bias_init, (self.features,))
    x_BHWC, kernel, bias = nn.dtypes.promote_dtype(x_BHWC, kernel, bias)
    z_BHWP = conv2x2(x_BHWC, phase_kernel(kernel), True)
    return gather_phases(z_BHWP.reshape(b, h + 1, w + 1, 2, 2, self.features)) + bias


def params_from_conv_transpose(params: dict) -> dict:
  """`UpConv2x` parameters from those of the equivalent `nn.ConvTranspose` (same function).

  Args:
    params: {'kernel': [4, 4, C, F], 'bias': [F]}, the transposed convolution's parameters
      (what the previous `UpConv2x` held under 'ConvTranspose_0').

  Returns:
    {'kernel', 'bias'} for `UpConv2x(F)`: the same arrays, since the layouts agree.
  """
  return {"kernel": params["kernel"], "bias": params["bias"]}
