"""DownConv2x is exactly the 4x4 stride-2 'SAME' convolution it replaces."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.nets.downsample import DownConv2x


def _strided(features):
  return nn.Conv(features, (4, 4), strides=(2, 2), padding="SAME",
                 precision=jax.lax.Precision.HIGHEST)


def _normal(seed, shape):
  # numpy, not jax.random: eager jax.random.normal compiles for seconds on a loaded CPU.
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _loss(module, params, x):
  return jnp.sum(jnp.sin(module.apply({"params": params}, x)))


# One input channel (the encoder's first layer), equal widths, and a narrowing layer.
@pytest.mark.parametrize("shape,features", [
    ((2, 8, 8, 1), 32), ((1, 6, 10, 4), 4), ((2, 8, 8, 32), 8)])
def test_outputs_and_gradients_equal_strided_conv(shape, features):
  x = _normal(0, shape)
  ref = _strided(features)
  params = {"kernel": _normal(1, (4, 4, shape[-1], features)) / np.sqrt(16 * shape[-1]),
            "bias": _normal(2, (features,))}
  ours = DownConv2x(features)
  y = jax.jit(ours.apply)({"params": params}, x)
  assert y.shape == (shape[0], shape[1] // 2, shape[2] // 2, features)
  np.testing.assert_allclose(y, ref.apply({"params": params}, x), rtol=1e-5, atol=1e-5)
  # Jitted: one compilation per function rather than one per operation keeps the test fast.
  g_ours = jax.jit(jax.grad(lambda p, x: _loss(ours, p, x), (0, 1)))(params, x)
  g_ref = jax.jit(jax.grad(lambda p, x: _loss(ref, p, x), (0, 1)))(params, x)
  for ours_g, ref_g in ((g_ours[1], g_ref[1]), (g_ours[0]["kernel"], g_ref[0]["kernel"]),
                        (g_ours[0]["bias"], g_ref[0]["bias"])):
    # Sums over many pixels: float32 rounding grows with their size, so scale the tolerance.
    np.testing.assert_allclose(ours_g, ref_g, rtol=1e-5, atol=1e-5 * float(jnp.max(jnp.abs(ref_g))))


def test_initialisation_matches_strided_conv_scale():
  x = jnp.zeros((1, 8, 8, 64))
  ours = jax.jit(DownConv2x(64).init)(jax.random.key(0), x)["params"]
  np.testing.assert_allclose(jnp.std(ours["kernel"]), 1 / 32, rtol=0.03)  # fan-in 4*4*64


def test_odd_sides_are_refused():
  with pytest.raises(ValueError, match="even"):
    DownConv2x(4).init(jax.random.key(0), jnp.zeros((1, 5, 6, 2)))
