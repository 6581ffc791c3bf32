"""The VAE family and its disentangling variants: Gaussian posterior, reparameterisation.

The default objective (`model.objective='beta'`) is rec + beta * kl per example, with
rec = -log p(x | z) for one posterior sample and kl = KL(q(z | x) || N(0, I)) in closed form
(Kingma & Welling 2014; Higgins et al. 2017): beta = 1 is the VAE. The other objectives of
disentanglement_lib (annealed, tcvae, factorvae, dip_i, dip_ii) swap the beta * kl term for
their regulariser (`vae_objectives.py`). Every weight is a traced hyperparameter, so changing
one never recompiles and a grid of weights trains as one vmapped program. FactorVAE adds a
discriminator on z ('disc' params and optimiser group) updated in the same compiled step.
eval_step and log_prob_bound are the plain ELBO whatever the objective. The decoder is
model.likelihood: 'bernoulli', 'binomial' (n = model.levels; a probability of grey-level
images on that grid, checked against the data here) or 'gaussian' (`likelihoods.py`).
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from genjax.core.dataset import DatasetInfo
from genjax.core.optim import make_optimizer
from genjax.core.state import TrainState
from genjax.errors import ConfigError
from genjax.models import config_rules, common, likelihoods, nets
from genjax.models import vae_objectives as objectives
from genjax.models.vae_objectives import gaussian_kl

_VAE_NETS = ("encoder", "decoder")  # the 'main' optimiser group


class _Forward(NamedTuple):
  """One pass through the VAE: per-example rec [B], KL per dim [B, D] and the posterior."""
  rec_B: jax.Array
  kl_BD: jax.Array
  z_BD: jax.Array
  mean_BD: jax.Array
  logvar_BD: jax.Array


@dataclasses.dataclass(frozen=True)
class VAE:
  """A VAE family; build it with `VAE.from_config(config, info)`."""
  encoder: nn.Module
  decoder: nn.Module
  latent_dim: int
  likelihood: str
  optimizer: optax.GradientTransformation
  objective: str = "beta"
  dataset_size: int = 0  # N of beta-TCVAE's estimator
  discriminator: nn.Module | None = None  # FactorVAE's
  disc_optimizer: optax.GradientTransformation | None = None
  levels: int | None = None  # the binomial decoder's n (model.levels); None for the others
  micro_batches: int = 1  # train.grad_accum_steps (beta and annealed objectives only)
  precision: str = "float32"  # train.precision: what the networks compute in (common.apply_net)

  @classmethod
  def config_rules(cls) -> dict:
    """Every config key this family reads beyond the generic sections, with its rule."""
    return {**config_rules.BASE, **config_rules.DECODER, **objectives.CONFIG_RULES}

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, info: DatasetInfo) -> "VAE":
    m = config.model
    objective = m.get("objective", "beta")  # configs from before the objectives: a beta-VAE
    objectives.check_hparams(objective, config.hparams)
    extra = {"levels": likelihoods.decoder_levels(config, info),
             "micro_batches": common.micro_batches(config, _WHOLE_BATCH.get(objective, "")),
             "precision": common.precision(config)}
    if objective == "tcvae":
      if not info.num_examples:
        raise ConfigError("model.objective='tcvae' needs the training set's size: build the "
                          "family from the info of genjax.data.load(config.data, 'train')")
      extra["dataset_size"] = info.num_examples
    if objective == "factorvae":
      extra.update(discriminator=LatentDiscriminator(tuple(_needs(config, "model.disc_widths"))),
                   disc_optimizer=_disc_optimizer(config))
    return cls(encoder=nets.make_encoder(m, info, 2 * m.latent_dim),
               decoder=nets.make_decoder(m, info), latent_dim=m.latent_dim,
               likelihood=m.likelihood,
               optimizer=make_optimizer(config.optim, config.train.num_steps),
               objective=objective, **extra)

  def init(self, rng: jax.Array, batch: dict, hp: dict) -> TrainState:
    del hp
    k_enc, k_dec = jax.random.split(rng)
    x = batch["x"][:1]
    z = jnp.zeros((1, self.latent_dim))
    params = {
        "encoder": self.encoder.init(k_enc, x)["params"],
        "decoder": self.decoder.init(k_dec, z)["params"],
    }
    if self.discriminator is None:
      return common.new_state(params, self.optimizer)
    disc = self.discriminator.init(jax.random.fold_in(rng, 1), z)["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params=dict(params, disc=disc),
                      opt_state={"main": self.optimizer.init(params),
                                 "disc": self.disc_optimizer.init(disc)}, ema={}, extra={})

  # --- capabilities used by evaluators and figures ------------------------------------

  def posterior(self, state: TrainState, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """q(z | x) as (mean [B, D], logvar [B, D])."""
    return self._posterior(state.params, x)

  def encode(self, state: TrainState, x: jax.Array) -> jax.Array:
    """Features / codes: the posterior mean [B, D]."""
    return self._posterior(state.params, x)[0]

  def decode(self, state: TrainState, z_BD: jax.Array) -> jax.Array:
    """The decoder's mean for codes z, shaped like x."""
    out = self._decoder(state.params, z_BD)
    return likelihoods.decoder_mean(out, self.likelihood)

  def sample(self, state: TrainState, rng: jax.Array, num: int, hp: dict, cond=None) -> jax.Array:
    """Decoder means for z ~ N(0, I): generation never touches the encoder."""
    del hp, cond
    return self.decode(state, jax.random.normal(rng, (num, self.latent_dim)))

  def log_prob_bound(self, state: TrainState, batch: dict, rng: jax.Array) -> jax.Array:
    """The negative ELBO per example, in nats: an upper bound on -log p(x)."""
    return self.elbo_terms(state, batch, rng)["nelbo"]

  def elbo_terms(self, state: TrainState, batch: dict, rng: jax.Array) -> dict:
    """Per-example [B] rec, kl and their sum nelbo at beta = 1, one posterior draw."""
    rec, kl_BD = self._terms(state.params, batch["x"], rng)
    kl = kl_BD.sum(-1)
    return {"rec": rec, "kl": kl, "nelbo": rec + kl}

  def proper_likelihood(self, info: DatasetInfo) -> bool:
    """True when the decoder's NLL is -log of a distribution of `info`'s x."""
    return likelihoods.is_proper(self.likelihood, self.levels, info)

  def prior_kl(self, state: TrainState, x_BX: jax.Array) -> jax.Array:
    """KL(q(z_d | x) || N(0, 1)) per latent dimension, [B, D]."""
    return gaussian_kl(*self._posterior(state.params, x_BX))

  def log_joint(self, state: TrainState, x_BX: jax.Array, z_SBD: jax.Array) -> jax.Array:
    """log p(x | z) + log p(z) [S, B] for S codes per example."""
    s, b, d = z_SBD.shape
    out = self._decoder(state.params, z_SBD.reshape(s * b, d))
    return likelihoods.log_joint(out, x_BX, z_SBD, self.likelihood, self.levels)

  # --- training and evaluation --------------------------------------------------------

  def train_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict):
    if self.objective == "factorvae":
      return self._factorvae_step(state, batch, rng, hp)
    def loss_fn(params, batch, rng, hp):
      loss, (metrics, _) = self._objective(params, batch, rng, hp, state.step)
      return loss, metrics
    return common.gradient_step(loss_fn, self.optimizer, state, batch, rng, hp,
                                self.micro_batches)

  def eval_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict) -> dict:
    """Per-example [B] terms at beta = 1 (the ELBO) and the squared error of the mean."""
    del hp
    terms = self.elbo_terms(state, batch, rng)
    mean = self.decode(state, self.encode(state, batch["x"]))
    sq_err = jnp.sum((mean - batch["x"]).reshape(terms["rec"].shape[0], -1) ** 2, -1)
    return dict(terms, sq_err=sq_err)

  def _posterior(self, params, x):
    out = common.apply_net(self.precision, self.encoder, params["encoder"], x)
    mean, logvar = jnp.split(out, 2, axis=-1)
    return mean, logvar

  def _decoder(self, params, z_BD):
    return common.apply_net(self.precision, self.decoder, params["decoder"], z_BD)

  def _forward(self, params, x, rng) -> _Forward:
    mean, logvar = self._posterior(params, x)
    z = mean + jnp.exp(0.5 * logvar) * jax.random.normal(rng, mean.shape)
    out = self._decoder(params, z)
    return _Forward(likelihoods.decoder_nll(out, x, self.likelihood, self.levels),
                    gaussian_kl(mean, logvar), z, mean, logvar)

  def _terms(self, params, x, rng):
    f = self._forward(params, x, rng)
    return f.rec_B, f.kl_BD

  def _objective(self, params, batch, rng, hp, step, disc_params=None):
    """(loss, (metrics, z_BD)): rec + the objective's regulariser, averaged over the batch."""
    f = self._forward(params, batch["x"], rng)
    kl = f.kl_BD.sum(-1)
    tc_logit = None if disc_params is None else self._disc(disc_params, f.z_BD)
    penalty, extra = objectives.regulariser(
        self.objective, hp, kl_B=kl, z_BD=f.z_BD, mean_BD=f.mean_BD, logvar_BD=f.logvar_BD,
        step=step, dataset_size=self.dataset_size, tc_logit_B=tc_logit)
    loss = jnp.mean(f.rec_B + penalty)
    metrics = {"loss": loss, "rec": f.rec_B.mean(), "kl": kl.mean(),
               "nelbo": (f.rec_B + kl).mean(), **extra}
    return loss, (metrics, f.z_BD)

  # --- FactorVAE: the VAE step against the current discriminator, then its own step on
  # the same batch's codes (as disentanglement_lib; the paper draws a second batch) -----

  def _factorvae_step(self, state, batch, rng, hp):
    rng_z, rng_perm = jax.random.split(jax.random.fold_in(rng, state.step))
    vae_params = {k: state.params[k] for k in _VAE_NETS}
    disc_params = state.params["disc"]
    (_, (metrics, z_BD)), grads = jax.value_and_grad(self._objective, has_aux=True)(
        vae_params, batch, rng_z, hp, state.step, disc_params)
    updates, opt_main = self.optimizer.update(grads, state.opt_state["main"], vae_params)
    vae_params = optax.apply_updates(vae_params, updates)
    # The discriminator sees the same codes, detached: its loss trains only 'disc'.
    z_perm_BD = objectives.permute_dims(rng_perm, z_BD)
    d_loss, d_grads = jax.value_and_grad(self._disc_loss)(disc_params, z_BD, z_perm_BD)
    updates, opt_disc = self.disc_optimizer.update(d_grads, state.opt_state["disc"], disc_params)
    disc_params = optax.apply_updates(disc_params, updates)
    metrics = dict(metrics, d_loss=d_loss, lr=common.learning_rate(opt_main))
    return state.replace(step=state.step + 1, params=dict(vae_params, disc=disc_params),
                         opt_state={"main": opt_main, "disc": opt_disc}), metrics

  def _disc_loss(self, disc_params, z_BD, z_perm_BD):
    return objectives.discriminator_loss(self._disc(disc_params, z_BD),
                                         self._disc(disc_params, z_perm_BD))

  def _disc(self, disc_params, z_BD):
    return common.apply_net(self.precision, self.discriminator, disc_params, z_BD)


# Objectives whose regulariser reads the whole batch at once: micro-batches would change it.
_WHOLE_BATCH = {
    "tcvae": "beta-TCVAE's minibatch-weighted estimate of q(z) uses the whole batch",
    "factorvae": "FactorVAE permutes codes across the whole batch for its discriminator",
    "dip_i": "DIP-VAE's penalty is on the covariance of the whole batch's codes",
    "dip_ii": "DIP-VAE's penalty is on the covariance of the whole batch's codes",
}


class LatentDiscriminator(nn.Module):
  """FactorVAE's discriminator: an MLP with leaky ReLU (slope 0.2), one logit per code [B].

  Kim & Mnih (2018) and disentanglement_lib use six hidden layers of 1000 units.
  """
  widths: tuple[int, ...]

  @nn.compact
  def __call__(self, z_BD: jax.Array) -> jax.Array:
    h = z_BD
    for width in self.widths:
      h = nn.leaky_relu(nn.Dense(width)(h), negative_slope=0.2)
    return nn.Dense(1)(h)[:, 0]


def _needs(config: ml_collections.ConfigDict, key: str):
  """config's dotted `key`, or a ConfigError naming it and where the defaults live."""
  node = config
  for part in key.split("."):
    if part not in node:
      raise ConfigError(f"model.objective='{config.model.objective}' needs config.{key}; "
                        "configs/vae.py's objective_defaults() sets it")
    node = node[part]
  return node


def _disc_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
  """The discriminator's optimiser: config.optim with its own rate and moments (optim.disc_*)."""
  optim = ml_collections.ConfigDict(config.optim.to_dict())
  optim.learning_rate = _needs(config, "optim.disc_learning_rate") or config.optim.learning_rate
  optim.b1 = _needs(config, "optim.disc_b1")
  optim.b2 = _needs(config, "optim.disc_b2")
  return make_optimizer(optim, config.train.num_steps)
