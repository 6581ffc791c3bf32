"""The disentanglement_lib nets: its layer sizes, and Patch2x = the 2x2 stride-2 convolution."""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import F32_UNIT_ROUNDOFF
from genjax.nets.dislib_conv import DislibConvDecoder, DislibConvEncoder, Patch2x


def _normal(seed, shape):
  return jnp.asarray(np.random.default_rng(seed).standard_normal(shape), jnp.float32)


def test_patch2x_equals_the_strided_convolution():
  x = _normal(0, (2, 8, 6, 3))
  params = {"kernel": _normal(1, (2, 2, 3, 5)), "bias": _normal(2, (5,))}
  ref = nn.Conv(5, (2, 2), strides=(2, 2), padding="SAME", precision=jax.lax.Precision.HIGHEST)
  y = jax.jit(Patch2x(5).apply)({"params": params}, x)
  y_ref = ref.apply({"params": params}, x)
  assert y.shape == (2, 4, 3, 5)
  # Both sum the same 12 products (+ bias) in some order: each differs from the exact sum by
  # at most ~13 u times the sum of the magnitudes.
  xp = jnp.abs(x).reshape(2, 4, 2, 3, 2, 3).transpose(0, 1, 3, 2, 4, 5).reshape(2, 4, 3, 12)
  magnitude = xp @ jnp.abs(params["kernel"]).reshape(12, 5) + jnp.abs(params["bias"])
  assert np.all(np.abs(y - y_ref) <= 2 * 13 * F32_UNIT_ROUNDOFF * magnitude)


def test_layer_sizes_are_disentanglement_libs():
  """Parameter counts of architectures.py's conv_encoder (10 latents: means and log-variances)
  and deconv_decoder on 64x64x1, counted by hand layer by layer."""
  encoder = (4 * 4 * 1 * 32 + 32) + (4 * 4 * 32 * 32 + 32) + (2 * 2 * 32 * 64 + 64) \
      + (2 * 2 * 64 * 64 + 64) + (4 * 4 * 64 * 256 + 256) + 2 * (256 * 10 + 10)
  decoder = (10 * 256 + 256) + (256 * 1024 + 1024) + (4 * 4 * 64 * 64 + 64) \
      + (4 * 4 * 64 * 32 + 32) + (4 * 4 * 32 * 32 + 32) + (4 * 4 * 32 * 1 + 1)
  enc = jax.eval_shape(DislibConvEncoder(20).init, jax.random.key(0), jnp.zeros((2, 64, 64, 1)))
  dec = jax.eval_shape(DislibConvDecoder((64, 64, 1)).init, jax.random.key(0), jnp.zeros((2, 10)))
  count = lambda tree: sum(int(np.prod(a.shape)) for a in jax.tree.leaves(tree))
  assert (count(enc), count(dec)) == (encoder, decoder)
  out = jax.eval_shape(DislibConvDecoder((64, 64, 1)).apply, dec, jnp.zeros((2, 10)))
  assert out.shape == (2, 64, 64, 1)


def test_other_sides_are_refused():
  with pytest.raises(ValueError, match="64x64"):
    jax.eval_shape(DislibConvEncoder(20).init, jax.random.key(0), jnp.zeros((1, 32, 32, 1)))


@pytest.mark.parametrize("config,message", [
    ("configs/vae.py:smoke", "takes 64x64 images"),  # 16x16 sprites
    ("configs/gan.py:smoke", "the gan family takes model.net=conv or mlp"),
    ("configs/classifier.py:smoke", "the classifier family takes model.net=conv or mlp")])
def test_misuse_is_one_config_error(config, message):
  from genjax import config as gconfig, data, models  # pylint: disable=import-outside-toplevel
  from genjax.errors import ConfigError  # pylint: disable=import-outside-toplevel
  c = gconfig.load_config(config, {"model.net": "dislib_conv"})
  with pytest.raises(ConfigError, match=message):
    models.build_family(c, data.load(c.data, "train").info)
