"""The deterministic autoencoder family: a point code, a reconstruction loss, no KL.

Generation without the encoder draws codes from a diagonal Gaussian fitted to the
training codes (ex-post density estimation, as in Ghosh et al. 2020): the code mean and
second moment are tracked by an exponential moving average inside the train state.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from genjax.core.dataset import DatasetInfo
from genjax.core.optim import make_optimizer
from genjax.core.state import TrainState
from genjax.models import common, config_rules, likelihoods, nets, vae_objectives

_CODE_EMA = 0.99


@dataclasses.dataclass(frozen=True)
class Autoencoder:
  """An autoencoder family; build it with `Autoencoder.from_config(config, info)`."""
  encoder: nn.Module
  decoder: nn.Module
  latent_dim: int
  likelihood: str
  optimizer: optax.GradientTransformation
  levels: int | None = None  # the binomial decoder's n (model.levels); None for the others
  micro_batches: int = 1  # train.grad_accum_steps
  precision: str = "float32"  # train.precision: what the networks compute in (common.apply_net)

  @classmethod
  def config_rules(cls) -> dict:
    """Every config key this family reads beyond the generic sections, with its rule."""
    return {**config_rules.BASE, **config_rules.DECODER,
            **vae_objectives.CONFIG_RULES}  # its configs are the VAE's, objectives unused

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, info: DatasetInfo) -> "Autoencoder":
    m = config.model
    levels = likelihoods.decoder_levels(config, info)
    return cls(encoder=nets.make_encoder(m, info, m.latent_dim), decoder=nets.make_decoder(m, info),
               latent_dim=m.latent_dim, likelihood=m.likelihood,
               optimizer=make_optimizer(config.optim, config.train.num_steps), levels=levels,
               micro_batches=common.micro_batches(config), precision=common.precision(config))

  def init(self, rng: jax.Array, batch: dict, hp: dict) -> TrainState:
    del hp
    k_enc, k_dec = jax.random.split(rng)
    params = {
        "encoder": self.encoder.init(k_enc, batch["x"][:1])["params"],
        "decoder": self.decoder.init(k_dec, jnp.zeros((1, self.latent_dim)))["params"],
    }
    codes = {"code_mean": jnp.zeros(self.latent_dim), "code_sq": jnp.ones(self.latent_dim)}
    return common.new_state(params, self.optimizer, extra=codes)

  def encode(self, state: TrainState, x: jax.Array) -> jax.Array:
    return self._encoder(state.params, x)

  def decode(self, state: TrainState, z_BD: jax.Array) -> jax.Array:
    out = self._decoder(state.params, z_BD)
    return likelihoods.decoder_mean(out, self.likelihood)

  def sample(self, state: TrainState, rng: jax.Array, num: int, hp: dict, cond=None) -> jax.Array:
    """Decodes codes drawn from the Gaussian fitted to the training codes."""
    del hp, cond
    mean = state.extra["code_mean"]
    std = jnp.sqrt(jnp.maximum(state.extra["code_sq"] - mean**2, 1e-6))
    return self.decode(state, mean + std * jax.random.normal(rng, (num, self.latent_dim)))

  def train_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict):
    new_state, metrics = common.gradient_step(self._loss, self.optimizer, state, batch, rng, hp,
                                              self.micro_batches)
    codes = jax.lax.stop_gradient(self.encode(state, batch["x"]))
    ema = lambda old, new: _CODE_EMA * old + (1 - _CODE_EMA) * new
    extra = {"code_mean": ema(state.extra["code_mean"], codes.mean(0)),
             "code_sq": ema(state.extra["code_sq"], (codes**2).mean(0))}
    return new_state.replace(extra=extra), metrics

  def eval_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict) -> dict:
    del rng, hp
    out = self._decoder(state.params, self.encode(state, batch["x"]))
    rec = likelihoods.decoder_nll(out, batch["x"], self.likelihood, self.levels)
    mean = likelihoods.decoder_mean(out, self.likelihood)
    sq_err = jnp.sum((mean - batch["x"]).reshape(rec.shape[0], -1) ** 2, -1)
    return {"rec": rec, "sq_err": sq_err}

  def _loss(self, params, batch, rng, hp):
    del rng, hp
    out = self._decoder(params, self._encoder(params, batch["x"]))
    rec = likelihoods.decoder_nll(out, batch["x"], self.likelihood, self.levels).mean()
    return rec, {"loss": rec, "rec": rec}

  def _encoder(self, params, x):
    return common.apply_net(self.precision, self.encoder, params["encoder"], x)

  def _decoder(self, params, z_BD):
    return common.apply_net(self.precision, self.decoder, params["decoder"], z_BD)
