"""UpConv2x is exactly the 4x4 stride-2 'SAME' transposed convolution it replaces."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.nets.upsample import UpConv2x, params_from_conv_transpose


def _transposed(features):
  return nn.ConvTranspose(features, (4, 4), strides=(2, 2), padding="SAME",
                          precision=jax.lax.Precision.HIGHEST)


def _normal(seed, shape):
  # numpy, not jax.random: eager jax.random.normal compiles for seconds on a loaded CPU.
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _random_params(x, features):
  """nn.ConvTranspose's parameters, with a non-zero bias so that its placement is checked."""
  c = x.shape[-1]
  return {"kernel": _normal(1, (4, 4, c, features)) / np.sqrt(16 * c),
          "bias": _normal(2, (features,))}


def _loss(module, params, x):
  return jnp.sum(jnp.sin(module.apply({"params": params}, x)))


# [B, H, W, C], features: odd and non-square sides, one output channel, wide layers.
@pytest.mark.parametrize("shape,features", [
    ((1, 4, 4, 3), 5), ((2, 5, 3, 2), 7), ((2, 8, 8, 32), 1), ((1, 6, 6, 8), 64)])
def test_outputs_and_gradients_equal_conv_transpose(shape, features):
  x = _normal(0, shape)
  ref = _transposed(features)
  params = _random_params(x, features)
  ours = UpConv2x(features)
  y = jax.jit(ours.apply)({"params": params_from_conv_transpose(params)}, x)
  assert y.shape == (shape[0], 2 * shape[1], 2 * shape[2], features)
  np.testing.assert_allclose(y, ref.apply({"params": params}, x), rtol=1e-5, atol=1e-5)
  # Jitted: one compilation per function rather than one per operation keeps the test fast.
  g_ours = jax.jit(jax.grad(lambda p, x: _loss(ours, p, x), (0, 1)))(params, x)
  g_ref = jax.jit(jax.grad(lambda p, x: _loss(ref, p, x), (0, 1)))(params, x)
  for ours_g, ref_g in ((g_ours[1], g_ref[1]), (g_ours[0]["kernel"], g_ref[0]["kernel"]),
                        (g_ours[0]["bias"], g_ref[0]["bias"])):
    # Sums over many pixels: float32 rounding grows with their size, so scale the tolerance.
    np.testing.assert_allclose(ours_g, ref_g, rtol=1e-5, atol=1e-5 * float(jnp.max(jnp.abs(ref_g))))


def test_initialisation_has_the_transposed_convolutions_fan_in_scale():
  x = jnp.zeros((1, 4, 4, 64))
  ours = jax.jit(UpConv2x(64).init)(jax.random.key(0), x)["params"]
  ref = jax.jit(_transposed(64).init)(jax.random.key(0), x)["params"]
  assert ours["kernel"].shape == ref["kernel"].shape == (4, 4, 64, 64)
  # LeCun normal over fan-in 4 * 4 * 64: std 1/32 for both.
  np.testing.assert_allclose(jnp.std(ours["kernel"]), 1 / 32, rtol=0.03)
  np.testing.assert_allclose(jnp.std(ours["kernel"]), jnp.std(ref["kernel"]), rtol=0.03)
  assert not jnp.any(ours["bias"])
