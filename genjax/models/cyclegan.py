"""The CycleGAN family (Zhu et al. 2017): unpaired translation A <-> B with cycle consistency.

Four networks in two optimiser groups: generators G: A -> B ('gen_ab') and F: B -> A
('gen_ba') share the 'gen' optimiser; PatchGAN discriminators D_A ('disc_a') and D_B
('disc_b') share 'disc'. One jitted train_step follows the reference recipe: a generator
update, then a discriminator update on translated images drawn through a history pool.

  G:  (D_B(G(a)) - 1)^2 + (D_A(F(b)) - 1)^2                      least squares (Mao et al.)
      + lambda_cycle * (|F(G(a)) - a| + |G(F(b)) - b|)            cycle consistency
      + lambda_cycle * lambda_identity * (|G(b) - b| + |F(a) - a|) identity (colour keeping)
  D:  0.5 * [(D(real) - 1)^2 + D(pooled fake)^2] for each of D_A, D_B
each a mean over patches (or pixels) and examples; hp lambda_cycle 10, lambda_identity 0.5.
The history pool (Shrivastava et al. 2017) shows D one of the last `pool_size` (50)
translations per direction rather than only the newest, which damps oscillation. It is
state.extra arrays, so it is jitted, checkpointed and resumed exactly. The recipe's
learning rate, constant then linearly to 0, is optim.schedule='constant_then_linear'.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from genjax.core.dataset import DatasetInfo
from genjax.core.state import TrainState
from genjax.errors import CapabilityError, ConfigError
from genjax.models import common, config_rules, gan_losses, pix2pix
from genjax.nets import patchgan, resnet_generator

GEN, DISC = ("gen_ab", "gen_ba"), ("disc_a", "disc_b")


# ======================================================================================
# The history pool
# ======================================================================================

def new_pool(size: int, image_shape: tuple[int, ...]) -> dict:
  """An empty pool: `size` image slots and the number filled so far."""
  return {"images": jnp.zeros((size,) + tuple(image_shape), jnp.float32),
          "count": jnp.zeros((), jnp.int32)}


def pool_query(pool: dict, images_BHWC: jax.Array, rng: jax.Array) -> tuple[dict, jax.Array]:
  """Passes a batch through the pool, image by image, with the paper's replacement rule.

  While the pool is not full, each image is stored and returned. Once full, with
  probability 0.5 a random stored image is returned and the new one takes its slot;
  otherwise the new image is returned and the pool is unchanged.

  Args:
    pool: {'images': [P, H, W, C], 'count': int32 number of filled slots}.
    images_BHWC: the newest translations.
    rng: key for the coin flips and slot choices.

  Returns:
    The updated pool and the images to show the discriminator, [B, H, W, C].
  """
  size = pool["images"].shape[0]

  def one(carry, inputs):
    stored, count = carry
    image, key = inputs
    k_coin, k_slot = jax.random.split(key)
    full = count >= size
    swap = full & (jax.random.uniform(k_coin) < 0.5)
    slot = jnp.where(full, jax.random.randint(k_slot, (), 0, size), count)
    old = stored[slot]
    stored = stored.at[slot].set(jnp.where(full & ~swap, old, image))
    return (stored, count + (~full).astype(jnp.int32)), jnp.where(swap, old, image)

  keys = jax.random.split(rng, images_BHWC.shape[0])
  (stored, count), out = jax.lax.scan(one, (pool["images"], pool["count"]), (images_BHWC, keys))
  return {"images": stored, "count": count}, out


# ======================================================================================
# Losses (pure functions of arrays, so tests can check them by hand)
# ======================================================================================

def lsgan_generator_term(fake_logits: jax.Array) -> jax.Array:
  """mean (D(fake) - 1)^2: the recipe's generator term, without the 1/2 of gan_losses'."""
  return jnp.mean((fake_logits - 1.0) ** 2)


def lsgan_discriminator_term(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
  """0.5 * [mean (D(real) - 1)^2 + mean D(fake)^2]."""
  return gan_losses.discriminator_loss("least_squares", real_logits, fake_logits)


def l1_pair(a: jax.Array, a_hat: jax.Array, b: jax.Array, b_hat: jax.Array) -> jax.Array:
  """mean |a_hat - a| + mean |b_hat - b| (the cycle and the identity terms' form)."""
  return jnp.mean(jnp.abs(a_hat - a)) + jnp.mean(jnp.abs(b_hat - b))


# ======================================================================================
# The family
# ======================================================================================

@dataclasses.dataclass(frozen=True)
class CycleGAN:
  """CycleGAN; build it with `CycleGAN.from_config(config, info)`."""
  gen_ab: nn.Module
  gen_ba: nn.Module
  discriminator: nn.Module
  pool_size: int
  identity: bool
  opt_gen: optax.GradientTransformation
  opt_disc: optax.GradientTransformation
  precision: str = "float32"  # train.precision: what the four nets compute in (common.apply_net)

  @classmethod
  def config_rules(cls) -> dict:
    """Every config key this family reads beyond the generic sections, with its rule."""
    return {**config_rules.BASE, **config_rules.known(
        "model.disc_channels", "model.disc_layers", "model.num_blocks", "model.pool_size",
        "hparams.lambda_cycle", "hparams.lambda_identity")}

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, info: DatasetInfo) -> "CycleGAN":
    m = config.model
    pix2pix.check_translation_data(config, info, need_pairs=False)
    pix2pix.check_hparams(config, ("lambda_cycle", "lambda_identity"))
    side = info.x_shape[0]
    if side % 4 or side < 8 or info.x_shape[0] != info.x_shape[1]:
      raise ConfigError(f"model family 'cyclegan' needs square images with a side that is a "
                        f"multiple of 4 and >= 8; '{info.name}' gives {info.x_shape}")
    pix2pix.check_patchgan(config, side)
    if m.pool_size < 0 or m.num_blocks < 0:
      raise ConfigError(f"config.model.pool_size={m.pool_size} and model.num_blocks="
                        f"{m.num_blocks} must be >= 0")
    # G(b) ~ b needs B images to be valid inputs of G, i.e. A's channel count.
    same_channels = info.x_shape[-1] == info.y_shape[-1]
    if not same_channels and config.hparams.lambda_identity > 0:
      raise ConfigError(
          f"hparams.lambda_identity > 0 needs A and B images with equal channels, but "
          f"'{info.name}' has {info.x_shape[-1]} and {info.y_shape[-1]}; set it to 0")
    opt_gen, opt_disc = pix2pix.two_optimizers(config)
    def make(out_channels):
      return resnet_generator.ResnetGenerator(out_channels, m.channels, m.num_blocks)
    return cls(gen_ab=make(info.y_shape[-1]), gen_ba=make(info.x_shape[-1]),
               discriminator=patchgan.PatchGAN(m.disc_channels, m.disc_layers),
               pool_size=m.pool_size, identity=same_channels, opt_gen=opt_gen, opt_disc=opt_disc,
               precision=common.precision(config))

  def init(self, rng: jax.Array, batch: dict, hp: dict) -> TrainState:
    del hp
    keys = jax.random.split(rng, 4)
    a, b = batch["x"][:1], batch["y"][:1]
    params = {"gen_ab": self.gen_ab.init(keys[0], a)["params"],
              "gen_ba": self.gen_ba.init(keys[1], b)["params"],
              "disc_a": self.discriminator.init(keys[2], a)["params"],
              "disc_b": self.discriminator.init(keys[3], b)["params"]}
    extra = {}
    if self.pool_size:
      extra = {"pool_a": new_pool(self.pool_size, a.shape[1:]),
               "pool_b": new_pool(self.pool_size, b.shape[1:])}
    return TrainState(
        step=jnp.zeros((), jnp.int32), params=params,
        opt_state={"gen": self.opt_gen.init(_group(params, GEN)),
                   "disc": self.opt_disc.init(_group(params, DISC))},
        ema={}, extra=extra)

  # --- capabilities -------------------------------------------------------------------

  def translate(self, state: TrainState, x_BHWC: jax.Array, direction: str = "AtoB") -> jax.Array:
    """G(x) for direction 'AtoB', F(x) for 'BtoA'."""
    if direction not in pix2pix.DIRECTIONS:
      raise ConfigError(f"direction '{direction}' is unknown; use 'AtoB' or 'BtoA'")
    if direction == "AtoB":
      return self._net(self.gen_ab, state.params["gen_ab"], x_BHWC)
    return self._net(self.gen_ba, state.params["gen_ba"], x_BHWC)

  def sample(self, state: TrainState, rng: jax.Array, num: int, hp: dict, cond=None) -> jax.Array:
    """A -> B translations of the first `num` inputs in `cond`; there is no prior."""
    del rng, hp
    if cond is None:
      raise CapabilityError(
          "cyclegan has no prior to sample from; pass inputs to translate "
          "(genjax translate --workdir=... --input=...)")
    return self.translate(state, jnp.asarray(cond)[:num])

  def eval_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict) -> dict:
    """Per-example mean absolute error of G(x) against x's true counterpart."""
    del rng, hp
    return {"l1": pix2pix.per_example_l1(self.translate(state, batch["x"]), pix2pix.truth(batch))}

  # --- training -----------------------------------------------------------------------

  def train_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict):
    rng = jax.random.fold_in(rng, state.step)
    a, b = batch["x"], batch["y"]
    params, opt_state, extra = dict(state.params), dict(state.opt_state), dict(state.extra)
    gen, disc = _group(params, GEN), _group(params, DISC)
    (_, (metrics, fake_a, fake_b)), grads = jax.value_and_grad(self._gen_loss, has_aux=True)(
        gen, disc, a, b, hp)
    updates, opt_state["gen"] = self.opt_gen.update(grads, opt_state["gen"], gen)
    params.update(optax.apply_updates(gen, updates))
    # D learns from the translations of the generators before their update (the recipe's).
    fake_a, fake_b = jax.lax.stop_gradient(fake_a), jax.lax.stop_gradient(fake_b)
    if self.pool_size:
      k_a, k_b = jax.random.split(rng)
      extra["pool_a"], fake_a = pool_query(extra["pool_a"], fake_a, k_a)
      extra["pool_b"], fake_b = pool_query(extra["pool_b"], fake_b, k_b)
    (_, d_metrics), grads = jax.value_and_grad(self._disc_loss, has_aux=True)(
        disc, a, b, fake_a, fake_b)
    updates, opt_state["disc"] = self.opt_disc.update(grads, opt_state["disc"], disc)
    params.update(optax.apply_updates(disc, updates))
    state = state.replace(step=state.step + 1, params=params, opt_state=opt_state, extra=extra)
    return state, dict(metrics, **d_metrics)

  def _gen_loss(self, gen, disc, a, b, hp):
    def g(x):
      return self._net(self.gen_ab, gen["gen_ab"], x)

    def f(x):
      return self._net(self.gen_ba, gen["gen_ba"], x)

    fake_b, fake_a = g(a), f(b)
    adv_ab = lsgan_generator_term(self._disc(disc["disc_b"], fake_b))
    adv_ba = lsgan_generator_term(self._disc(disc["disc_a"], fake_a))
    cycle = l1_pair(a, f(fake_b), b, g(fake_a))
    identity = l1_pair(b, g(b), a, f(a)) if self.identity else jnp.zeros(())
    lam = hp["lambda_cycle"]
    loss = adv_ab + adv_ba + lam * cycle + lam * hp["lambda_identity"] * identity
    metrics = {"g_adv_ab": adv_ab, "g_adv_ba": adv_ba, "cycle": cycle, "identity": identity,
               "g_loss": loss}
    return loss, (metrics, fake_a, fake_b)

  def _disc_loss(self, disc, a, b, fake_a, fake_b):
    real_a, real_b = self._disc(disc["disc_a"], a), self._disc(disc["disc_b"], b)
    d_a = lsgan_discriminator_term(real_a, self._disc(disc["disc_a"], fake_a))
    d_b = lsgan_discriminator_term(real_b, self._disc(disc["disc_b"], fake_b))
    return d_a + d_b, {"d_a": d_a, "d_b": d_b, "d_real_a": jnp.mean(real_a),
                       "d_real_b": jnp.mean(real_b)}

  def _disc(self, disc_params, x):
    return self._net(self.discriminator, disc_params, x)

  def _net(self, module, params, x):
    return common.apply_net(self.precision, module, params, x)


def _group(params: dict, names: tuple[str, ...]) -> dict:
  return {k: params[k] for k in names}
