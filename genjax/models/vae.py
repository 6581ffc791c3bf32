"""The VAE and beta-VAE family: Gaussian posterior, reparameterisation, analytic KL to N(0, I).

The per-example objective is rec + beta * kl, with rec = -log p(x | z) for one posterior
sample and kl = KL(q(z | x) || N(0, I)) in closed form (Kingma & Welling 2014; Higgins et
al. 2017). beta is a traced hyperparameter (hp['beta']): beta = 1 is the VAE, and changing
beta never recompiles, so a beta grid trains as one vmapped program.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from genjax.data.base import DatasetInfo
from genjax.models import common, likelihoods, nets
from genjax.train.optim import make_optimizer
from genjax.train.state import TrainState


def gaussian_kl(mean_BD: jax.Array, logvar_BD: jax.Array) -> jax.Array:
  """KL(N(mean, exp(logvar)) || N(0, I)) per latent dimension, [B, D]."""
  return 0.5 * (mean_BD**2 + jnp.exp(logvar_BD) - 1.0 - logvar_BD)


@dataclasses.dataclass(frozen=True)
class VAE:
  """A VAE family; build it with `VAE.from_config(config, info)`."""
  encoder: nn.Module
  decoder: nn.Module
  latent_dim: int
  likelihood: str
  optimizer: optax.GradientTransformation

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, info: DatasetInfo) -> "VAE":
    m = config.model
    return cls(encoder=nets.make_encoder(m, info, 2 * m.latent_dim),
               decoder=nets.make_decoder(m, info), latent_dim=m.latent_dim,
               likelihood=m.likelihood,
               optimizer=make_optimizer(config.optim, config.train.num_steps))

  def init(self, rng: jax.Array, batch: dict, hp: dict) -> TrainState:
    del hp
    k_enc, k_dec = jax.random.split(rng)
    x = batch["x"][:1]
    params = {
        "encoder": self.encoder.init(k_enc, x)["params"],
        "decoder": self.decoder.init(k_dec, jnp.zeros((1, self.latent_dim)))["params"],
    }
    return common.new_state(params, self.optimizer)

  # --- capabilities used by evaluators and figures ------------------------------------

  def posterior(self, state: TrainState, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """q(z | x) as (mean [B, D], logvar [B, D])."""
    return self._posterior(state.params, x)

  def encode(self, state: TrainState, x: jax.Array) -> jax.Array:
    """Features / codes: the posterior mean [B, D]."""
    return self._posterior(state.params, x)[0]

  def decode(self, state: TrainState, z_BD: jax.Array) -> jax.Array:
    """The decoder's mean for codes z, shaped like x."""
    out = self.decoder.apply({"params": state.params["decoder"]}, z_BD)
    return likelihoods.decoder_mean(out, self.likelihood)

  def sample(self, state: TrainState, rng: jax.Array, num: int, hp: dict, cond=None) -> jax.Array:
    """Decoder means for z ~ N(0, I): generation never touches the encoder."""
    del hp, cond
    return self.decode(state, jax.random.normal(rng, (num, self.latent_dim)))

  def log_prob_bound(self, state: TrainState, batch: dict, rng: jax.Array) -> jax.Array:
    """The negative ELBO per example, in nats: an upper bound on -log p(x)."""
    rec, kl = self._terms(state.params, batch["x"], rng)
    return rec + kl.sum(-1)

  # --- training and evaluation --------------------------------------------------------

  def train_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict):
    return common.gradient_step(self._loss, self.optimizer, state, batch, rng, hp)

  def eval_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict) -> dict:
    """Per-example [B] terms at beta = 1 (the ELBO) and the squared error of the mean."""
    del hp
    rec, kl_BD = self._terms(state.params, batch["x"], rng)
    kl = kl_BD.sum(-1)
    mean = self.decode(state, self.encode(state, batch["x"]))
    sq_err = jnp.sum((mean - batch["x"]).reshape(rec.shape[0], -1) ** 2, -1)
    return {"rec": rec, "kl": kl, "nelbo": rec + kl, "sq_err": sq_err}

  def _posterior(self, params, x):
    out = self.encoder.apply({"params": params["encoder"]}, x)
    mean, logvar = jnp.split(out, 2, axis=-1)
    return mean, logvar

  def _terms(self, params, x, rng):
    mean, logvar = self._posterior(params, x)
    z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(rng, mean.shape)
    out = self.decoder.apply({"params": params["decoder"]}, z)
    return likelihoods.decoder_nll(out, x, self.likelihood), gaussian_kl(mean, logvar)

  def _loss(self, params, batch, rng, hp):
    rec, kl_BD = self._terms(params, batch["x"], rng)
    kl = kl_BD.sum(-1)
    loss = jnp.mean(rec + hp["beta"] * kl)
    return loss, {"loss": loss, "rec": rec.mean(), "kl": kl.mean(),
                  "nelbo": (rec + kl).mean()}
