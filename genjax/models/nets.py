"""Encoder and decoder networks for the latent-variable families, chosen by config.model.net."""
from __future__ import annotations

import flax.linen as nn
import ml_collections

from genjax.core.dataset import DatasetInfo
from genjax.errors import ConfigError
from genjax.nets import conv, dislib_conv, mlp


class _Reshape(nn.Module):
  """Wraps a vector-output net so it returns an array of `shape` per example."""
  net: nn.Module
  shape: tuple[int, ...]

  def __call__(self, z):
    return self.net(z).reshape((z.shape[0],) + self.shape)


def decoder_out_shape(info: DatasetInfo, likelihood: str) -> tuple[int, ...]:
  """Bernoulli decoders emit logits of x's shape; Gaussian ones a mean and log-scale each."""
  shape = tuple(info.x_shape)
  if likelihood == "gaussian":
    shape = shape[:-1] + (2 * shape[-1],)
  return shape


def make_encoder(model: ml_collections.ConfigDict, info: DatasetInfo, out_dim: int) -> nn.Module:
  if model.net == "conv":
    _check_conv(model, info)
    return conv.ConvEncoder(out_dim, channels=model.channels, hidden=model.hidden)
  if model.net == "dislib_conv":
    _check_dislib(info)
    return dislib_conv.DislibConvEncoder(out_dim)
  return mlp.MLP(tuple(model.widths), out_dim)


def make_decoder(model: ml_collections.ConfigDict, info: DatasetInfo) -> nn.Module:
  out_shape = decoder_out_shape(info, model.likelihood)
  if model.net == "conv":
    _check_conv(model, info)
    return conv.ConvDecoder(out_shape, channels=model.channels, hidden=model.hidden)
  if model.net == "dislib_conv":
    _check_dislib(info)
    return dislib_conv.DislibConvDecoder(out_shape)
  width = 1
  for d in out_shape:
    width *= d
  return _Reshape(mlp.MLP(tuple(reversed(model.widths)), width), out_shape)


def _check_conv(model, info):
  if info.kind != "image" or info.x_shape[0] != info.x_shape[1]:
    raise ConfigError(
        f"model.net='conv' needs square images, but '{info.name}' gives x of shape "
        f"{info.x_shape}; use --config.model.net=mlp")
  try:
    conv.num_stages(info.x_shape[0])
  except ValueError:
    raise ConfigError(
        f"model.net='conv' needs an image side of 4*2**k (8, 16, 32, 64...), but '{info.name}' "
        f"is {info.x_shape[0]}; change data.upscale/resolution or use --config.model.net=mlp"
    ) from None


def _check_dislib(info):
  shape = tuple(info.x_shape)
  if info.kind != "image" or shape[:2] != (dislib_conv.SIDE, dislib_conv.SIDE):
    raise ConfigError(
        f"model.net='dislib_conv' (disentanglement_lib's nets) takes 64x64 images, but "
        f"'{info.name}' gives x of shape {shape}; set data.resolution=64 or use model.net=conv")


def refuse_dislib(model: ml_collections.ConfigDict, family: str) -> None:
  """disentanglement_lib's encoder/decoder pair serves the latent-variable families only."""
  if model.net == "dislib_conv":
    raise ConfigError(f"model.net='dislib_conv' is the VAE/autoencoder nets of disentanglement_lib; "
                      f"the {family} family takes model.net=conv or mlp")
