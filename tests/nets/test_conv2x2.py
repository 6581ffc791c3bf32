"""conv2x2 equals XLA's own 2x2 convolution, in value and gradients, on both of its paths."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.nets.conv2x2 import conv2x2


def _normal(seed, shape):
  # numpy, not jax.random: eager jax.random.normal compiles for seconds on a loaded CPU.
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def _reference(x, w, full):
  pad = ((1, 1), (1, 1)) if full else "VALID"
  return jax.lax.conv_general_dilated(x, w, (1, 1), pad, dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                      precision=jax.lax.Precision.HIGHEST)


# (K, N): K <= N builds patches, K > N per-tap products; each backward pass runs the other
# mode ('full' <-> 'VALID'), so these three cover both paths in both modes.
@pytest.mark.parametrize("k,n,full", [(3, 5, False), (8, 8, True), (12, 2, True)])
def test_value_and_gradients_equal_lax_conv(k, n, full):
  x = _normal(0, (2, 5, 4, k))
  w = _normal(1, (2, 2, k, n))
  # Jitted: one compilation per function rather than one per operation keeps the test fast.
  y = jax.jit(conv2x2, static_argnums=2)(x, w, full)
  np.testing.assert_allclose(y, _reference(x, w, full), rtol=1e-5, atol=1e-5)
  g = _normal(2, y.shape)

  def cotangents(conv, g):
    return jax.vjp(lambda x, w: conv(x, w, full), x, w)[1](g)

  ours = jax.jit(cotangents, static_argnums=0)(conv2x2, g)
  ref = jax.jit(cotangents, static_argnums=0)(_reference, g)
  for a, b in zip(ours, ref):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def test_vmapped_gradient_equals_per_example_gradients():
  # Populations vmap the train step: the hand-written backward pass must batch correctly.
  x = _normal(3, (3, 2, 4, 4, 6))
  w = _normal(4, (3, 2, 2, 6, 4))
  grad = jax.grad(lambda w, x: jnp.sum(jnp.tanh(conv2x2(x, w, True))))
  batched = jax.jit(jax.vmap(grad))(w, x)
  for i in range(3):
    np.testing.assert_allclose(batched[i], jax.jit(grad)(w[i], x[i]), rtol=1e-5, atol=1e-6)
