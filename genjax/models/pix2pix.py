"""The pix2pix family (Isola et al. 2017): paired image translation x -> y with a conditional GAN.

A U-Net generator G and a conditional PatchGAN D (it sees the input joined to the real or
translated image). Two parameter groups ('gen', 'disc') with two optimisers; one jitted
train_step updates D on (x, y) against (x, G(x)), then G against the updated D, as the
reference recipe does. Losses (the recipe's):
  D:  0.5 * [softplus(-D(x, y)) + softplus(D(x, G(x)))]   (halved, to slow D relative to G)
  G:  softplus(-D(x, G(x))) + hp['lambda_l1'] * |G(x) - y|   (non-saturating; lambda 100)
each a mean over patches (or pixels) and examples. The L1 term pins the low frequencies to
the truth; the PatchGAN judges the texture that L1 alone blurs.

A translation model has no prior to sample from: `sample` translates `cond` when given and
otherwise refuses; `translate` is the capability the evaluator and `genjax translate` use.
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
from genjax.errors import CapabilityError, ConfigError
from genjax.models import common, config_rules, gan_losses
from genjax.nets import patchgan, unet

DIRECTIONS = ("AtoB", "BtoA")


# ======================================================================================
# Checks shared by the translation families
# ======================================================================================

def check_translation_data(config: ml_collections.ConfigDict, info: DatasetInfo,
                           need_pairs: bool) -> None:
  """Refuses data without a `y` domain (and, for a paired model, data without pairs)."""
  family = config.model.family
  if not info.y_shape or info.kind != "image":
    raise ConfigError(
        f"model family '{family}' translates images x into y, but data.name='{info.name}' has "
        "no y; use data.name='paired_shapes' or 'unpaired_shapes'")
  if need_pairs and not info.paired:
    raise ConfigError(
        f"model family '{family}' needs paired data (each y the counterpart of its x), but "
        f"data.name='{info.name}' is unpaired; use data.name='paired_shapes' or "
        "model.family='cyclegan'")
  if tuple(info.x_shape[:2]) != tuple(info.y_shape[:2]):
    raise ConfigError(f"model family '{family}' needs x and y of one size; '{info.name}' has "
                      f"{info.x_shape} and {info.y_shape}")


def check_hparams(config: ml_collections.ConfigDict, names: tuple[str, ...]) -> None:
  """Every loss weight the family reads is present and non-negative."""
  for name in names:
    if name not in config.hparams:
      raise ConfigError(f"model family '{config.model.family}' needs config.hparams.{name}; "
                        f"add it (see configs/{config.model.family}.py)")
    if config.hparams[name] < 0:
      raise ConfigError(f"config.hparams.{name}={config.hparams[name]!r} must be >= 0")


def check_patchgan(config: ml_collections.ConfigDict, side: int) -> None:
  layers = config.model.disc_layers
  if layers < 1 or side // 2**layers < 2:
    raise ConfigError(
        f"config.model.disc_layers={layers} must be >= 1 and leave at least 2x2 logits of the "
        f"{side}-pixel images (at most {max(side.bit_length() - 2, 0)})")


def two_optimizers(config: ml_collections.ConfigDict):
  """(generator optimiser, discriminator optimiser); optim.disc_learning_rate overrides D's."""
  disc_optim = ml_collections.ConfigDict(config.optim.to_dict())
  disc_optim.learning_rate = (config.optim.get("disc_learning_rate", 0.0)
                              or config.optim.learning_rate)
  return (make_optimizer(config.optim, config.train.num_steps),
          make_optimizer(disc_optim, config.train.num_steps))


def truth(batch: dict) -> jax.Array:
  """The true translation of batch['x']: y_true where the data holds it (unpaired), else y."""
  return batch["y_true"] if "y_true" in batch else batch["y"]


def per_example_l1(a_BHWC: jax.Array, b_BHWC: jax.Array) -> jax.Array:
  return jnp.mean(jnp.abs(a_BHWC - b_BHWC), axis=(1, 2, 3))


# ======================================================================================
# Losses (pure functions of arrays, so tests can check them by hand)
# ======================================================================================

def discriminator_objective(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  return 0.5 * gan_losses.discriminator_loss("non_saturating", real_logits, fake_logits)


def generator_objective(fake_logits: jax.Array, y_hat: jax.Array, y: jax.Array,
                        lambda_l1: jax.Array) -> tuple[jax.Array, dict]:
  """Non-saturating adversarial term plus lambda_l1 times the mean absolute error."""
  adv = gan_losses.generator_loss("non_saturating", fake_logits)
  l1 = jnp.mean(jnp.abs(y_hat - y))
  loss = adv + lambda_l1 * l1
  return loss, {"g_adv": adv, "l1": l1, "g_loss": loss}


# ======================================================================================
# The family
# ======================================================================================

@dataclasses.dataclass(frozen=True)
class Pix2Pix:
  """pix2pix; build it with `Pix2Pix.from_config(config, info)`."""
  generator: nn.Module
  discriminator: nn.Module
  dropout: bool
  opt_gen: optax.GradientTransformation
  opt_disc: optax.GradientTransformation
  precision: str = "float32"  # train.precision: what both nets compute in (common.apply_net)

  @classmethod
  def config_rules(cls) -> dict:
    """Every config key this family reads beyond the generic sections, with its rule."""
    return {**config_rules.BASE, **config_rules.known(
        "model.disc_channels", "model.disc_layers", "model.dropout", "hparams.lambda_l1")}

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, info: DatasetInfo) -> "Pix2Pix":
    m = config.model
    check_translation_data(config, info, need_pairs=True)
    check_hparams(config, ("lambda_l1",))
    side = info.x_shape[0]
    try:
      unet.unet_depth(side)
    except ValueError:
      raise ConfigError(f"model family 'pix2pix' needs square images with a power-of-two side "
                        f">= 8; '{info.name}' gives {info.x_shape}") from None
    check_patchgan(config, side)
    if not 0 <= m.dropout < 1:
      raise ConfigError(f"config.model.dropout={m.dropout!r} must lie in [0, 1)")
    opt_gen, opt_disc = two_optimizers(config)
    return cls(generator=unet.UNet(info.y_shape[-1], channels=m.channels, dropout=m.dropout),
               discriminator=patchgan.PatchGAN(m.disc_channels, m.disc_layers),
               dropout=m.dropout > 0, opt_gen=opt_gen, opt_disc=opt_disc,
               precision=common.precision(config))

  def init(self, rng: jax.Array, batch: dict, hp: dict) -> TrainState:
    del hp
    k_gen, k_disc = jax.random.split(rng)
    x, y = batch["x"][:1], batch["y"][:1]
    gen = self.generator.init(k_gen, x)["params"]
    disc = self.discriminator.init(k_disc, y, x)["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params={"gen": gen, "disc": disc},
                      opt_state={"gen": self.opt_gen.init(gen), "disc": self.opt_disc.init(disc)},
                      ema={}, extra={})

  # --- capabilities -------------------------------------------------------------------

  def translate(self, state: TrainState, x_BHWC: jax.Array, direction: str = "AtoB") -> jax.Array:
    """G(x): the B-domain image of each A-domain input (dropout off)."""
    if direction != "AtoB":
      raise CapabilityError(f"pix2pix translates only AtoB, not '{direction}'; train "
                            "model.family='cyclegan' for both directions")
    return common.apply_net(self.precision, self.generator, state.params["gen"], x_BHWC)

  def sample(self, state: TrainState, rng: jax.Array, num: int, hp: dict, cond=None) -> jax.Array:
    """Translations of the first `num` inputs in `cond`; a translation model has no prior."""
    del rng, hp
    if cond is None:
      raise CapabilityError("pix2pix has no prior to sample from; pass inputs to translate "
                            "(genjax translate --workdir=... --input=...)")
    return self.translate(state, jnp.asarray(cond)[:num])

  def eval_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict) -> dict:
    """Per-example mean absolute error of G(x) against the true y."""
    del rng, hp
    return {"l1": per_example_l1(self.translate(state, batch["x"]), truth(batch))}

  # --- training -----------------------------------------------------------------------

  def train_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict):
    rng = jax.random.fold_in(rng, state.step)
    x, y = batch["x"], batch["y"]
    params, opt_state = dict(state.params), dict(state.opt_state)
    # One generator pass serves both updates: D sees G(x) as a constant, and G's gradient
    # is pulled back through the same pass (dropout masks included) after D has moved.
    y_hat, pullback = jax.vjp(lambda g: self._generate(g, x, rng), params["gen"])
    (_, d_metrics), grads = jax.value_and_grad(self._disc_loss, has_aux=True)(
        params["disc"], x, y, jax.lax.stop_gradient(y_hat))
    updates, opt_state["disc"] = self.opt_disc.update(grads, opt_state["disc"], params["disc"])
    params["disc"] = optax.apply_updates(params["disc"], updates)
    (_, g_metrics), grad_y_hat = jax.value_and_grad(self._gen_loss, has_aux=True)(
        y_hat, params["disc"], x, y, hp)
    grads, = pullback(grad_y_hat)
    updates, opt_state["gen"] = self.opt_gen.update(grads, opt_state["gen"], params["gen"])
    params["gen"] = optax.apply_updates(params["gen"], updates)
    state = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
    return state, dict(d_metrics, **g_metrics)

  def _disc_loss(self, disc_params, x, y, y_hat):
    real = self._disc(disc_params, y, x)
    fake = self._disc(disc_params, y_hat, x)
    loss = discriminator_objective(real, fake)
    return loss, {"d_loss": loss, "d_real": jnp.mean(jax.nn.sigmoid(real)),
                  "d_fake": jnp.mean(jax.nn.sigmoid(fake))}

  def _gen_loss(self, y_hat, disc_params, x, y, hp):
    fake = self._disc(disc_params, y_hat, x)
    return generator_objective(fake, y_hat, y, hp["lambda_l1"])

  def _generate(self, gen_params, x, rng):
    if not self.dropout:
      return common.apply_net(self.precision, self.generator, gen_params, x)
    return common.apply_net(self.precision, self.generator, gen_params, x, train=True,
                            rngs={"dropout": rng})

  def _disc(self, disc_params, y, x):
    """PatchGAN logits for image y given the input x, computed in train.precision."""
    return common.apply_net(self.precision, self.discriminator, disc_params, y, x)
