"""The GAN family: generator vs discriminator, and the label-conditional GAN.

Two parameter groups ('gen', 'disc') with two optimisers; one jitted train_step does
`model.disc_steps` discriminator updates (each on fresh generator samples) and then one
generator update. Logged: both losses and the mean discriminator probability on real and on
generated samples (near 0.5 each at the ideal equilibrium).

Stabilisers, each off by default (off, the step is the one without it, bit for bit):
  hparams.r1_gamma      the R1 penalty on real data (Mescheder et al. 2018), traced
  model.pack            PacGAN packing (Lin et al. 2018): D judges `pack` samples at once
  optim.disc_learning_rate  TTUR (Heusel et al. 2017): D's own learning rate (0 = G's)
  model.spectral_norm   D's Dense/Conv kernels divided by their top singular value (Miyato
                        et al. 2018), one power iteration per discriminator step from a u
                        kept in state.extra['spectral'] (checkpointed; advanced by the
                        train step only, never by evaluation)
  model.diffaugment     DiffAugment (Zhao et al. 2020, `diffaugment.py`): one random
                        transform per example applied to real and generated images alike
                        (the same draw for both batches of a discriminator step, a fresh
                        one for the generator step), inside the graph; images only
  hparams.gp_lambda     WGAN-GP (Gulrajani et al. 2017): (||grad D(x_hat)|| - 1)^2 at random
                        interpolates of real and fake, traced (model.loss='wasserstein' for
                        the classic critic)
  hparams.lecam_lambda  LeCam (Tseng et al. 2021): ||D(x) - a_fake||^2 + ||D(G(z)) - a_real||^2,
                        a_* the EMAs (decay 0.99, warmed up like the params' EMA) of D's mean
                        logit on real and fake, kept in state.extra['lecam'], traced
R1, the gradient penalty and LeCam act on what D sees (augmented images under DiffAugment);
the LeCam anchors of a step are the EMAs before its outputs are folded in.
With train.grad_accum_steps = k, every discriminator step and the generator step take the
mean gradient of k micro-batches (packs stay whole: B / k must divide by model.pack); the
noise z, the augmentations and the interpolation weights are drawn for the whole batch
first, so the update is the full-batch one.
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from genjax import config as gconfig
from genjax.core.dataset import DatasetInfo
from genjax.core.optim import make_optimizer
from genjax.core.state import TrainState
from genjax.errors import ConfigError
from genjax.models import common, config_rules, diffaugment, gan_losses, nets
from genjax.nets import dcgan, mlp

_LECAM_DECAY = 0.99  # the anchors' EMA decay of Tseng et al. 2021


@dataclasses.dataclass(frozen=True)
class GAN:
  """A (conditional) GAN family; build it with `GAN.from_config(config, info)`."""
  generator: nn.Module
  discriminator: nn.Module
  latent_dim: int
  loss: str
  disc_steps: int
  pack: int
  num_classes: int
  image: bool
  opt_gen: optax.GradientTransformation
  opt_disc: optax.GradientTransformation
  micro_batches: int = 1  # train.grad_accum_steps: both players' gradients accumulate
  spectral_norm: bool = False
  augment: tuple[str, ...] = ()  # DiffAugment ops, () = off
  precision: str = "float32"  # train.precision: what both nets compute in (common.apply_net)

  @classmethod
  def config_rules(cls) -> dict:
    """Every config key this family reads beyond the generic sections, with its rule."""
    return {**config_rules.BASE, **config_rules.DISC_LEARNING_RATE,
            "model.loss": gconfig.one_of(gan_losses.LOSSES),
            "model.spectral_norm": (lambda v: isinstance(v, bool), "True or False"),
            "model.diffaugment": (diffaugment.valid, "'' (off) or a comma-separated subset of "
                                  + ", ".join(repr(op) for op in diffaugment.OPS)),
            "hparams.gp_lambda": (lambda v: v >= 0, ">= 0 (absent = no gradient penalty)"),
            "hparams.lecam_lambda": (lambda v: v >= 0, ">= 0 (absent = no LeCam penalty)"),
            **config_rules.known("model.conditional", "model.disc_steps", "model.pack",
                                 "hparams.r1_gamma")}

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, info: DatasetInfo) -> "GAN":
    m = config.model
    if m.loss not in gan_losses.LOSSES:
      raise ConfigError(f"config.model.loss='{m.loss}' is unknown; use one of {gan_losses.LOSSES}")
    if m.disc_steps < 1 or m.pack < 1 or config.data.batch_size % m.pack:
      raise ConfigError(
          f"model.disc_steps={m.disc_steps} must be >= 1 and model.pack={m.pack} >= 1 and a "
          f"divisor of data.batch_size={config.data.batch_size}")
    num_classes = info.num_classes if m.conditional else 0
    if m.conditional and not num_classes:
      raise ConfigError(f"model.conditional=True needs labels, but '{info.name}' has none")
    if m.conditional and m.pack > 1:
      raise ConfigError("model.pack > 1 is for unconditional GANs; set model.pack=1")
    image = info.kind == "image"
    micro = common.micro_batches(config)
    if (config.data.batch_size // micro) % m.pack:
      raise ConfigError(f"model.pack={m.pack} must divide the micro-batch data.batch_size / "
                        f"train.grad_accum_steps = {config.data.batch_size // micro}")
    nets.refuse_dislib(m, "gan")
    augment = diffaugment.parse(gconfig.optional(config, "model.diffaugment"))
    if augment and not image:
      raise ConfigError(f"model.diffaugment='{m.diffaugment}' augments images, but '{info.name}' "
                        "holds vectors; set model.diffaugment=''")
    sn = bool(gconfig.optional(config, "model.spectral_norm"))
    if m.net == "conv":
      body = dcgan.ConvGenerator(tuple(info.x_shape), channels=m.channels)
      trunk = dcgan.ConvDiscriminator(channels=m.channels, spectral_norm=sn)
    else:
      body = _VectorGenerator(tuple(m.widths), tuple(info.x_shape), image)
      trunk = dcgan.MLPFeatures(tuple(m.widths), spectral_norm=sn)
    disc_lr = config.optim.get("disc_learning_rate", 0.0) or config.optim.learning_rate
    disc_optim = ml_collections.ConfigDict(config.optim.to_dict())
    disc_optim.learning_rate = disc_lr
    return cls(generator=dcgan.ConditionedGenerator(body, num_classes),
               discriminator=dcgan.Critic(trunk, num_classes, spectral_norm=sn),
               latent_dim=m.latent_dim,
               loss=m.loss, disc_steps=m.disc_steps, pack=m.pack, num_classes=num_classes,
               image=image, opt_gen=make_optimizer(config.optim, config.train.num_steps),
               opt_disc=make_optimizer(disc_optim, config.train.num_steps), micro_batches=micro,
               spectral_norm=sn, augment=augment, precision=common.precision(config))

  def init(self, rng: jax.Array, batch: dict, hp: dict) -> TrainState:
    k_gen, k_disc = jax.random.split(rng)
    label = jnp.zeros((self.pack,), jnp.int32)
    gen = self.generator.init(k_gen, jnp.zeros((self.pack, self.latent_dim)), label)["params"]
    x = jnp.repeat(batch["x"][:1], self.pack, axis=0)
    variables = self.discriminator.init(k_disc, self._pack(x), label[:1])
    disc = variables["params"]
    extra = {}
    if self.spectral_norm:
      extra["spectral"] = variables[dcgan.SPECTRAL]
    if "lecam_lambda" in hp:
      extra["lecam"] = {"real": jnp.zeros(()), "fake": jnp.zeros(())}
    return TrainState(step=jnp.zeros((), jnp.int32), params={"gen": gen, "disc": disc},
                      opt_state={"gen": self.opt_gen.init(gen), "disc": self.opt_disc.init(disc)},
                      ema={}, extra=extra)

  # --- capabilities -------------------------------------------------------------------

  def sample(self, state: TrainState, rng: jax.Array, num: int, hp: dict, cond=None) -> jax.Array:
    """Generator outputs for z ~ N(0, I); labels cycle through the classes unless given."""
    del hp
    labels = self._labels(num, cond)
    return self._generate(state.params["gen"], jax.random.normal(rng, (num, self.latent_dim)), labels)

  def generate(self, state: TrainState, z_BD: jax.Array, cond=None) -> jax.Array:
    """Generator outputs for given codes (for interpolation in noise space)."""
    return self._generate(state.params["gen"], z_BD, self._labels(z_BD.shape[0], cond))

  def discriminate(self, state: TrainState, batch: dict) -> jax.Array:
    """Per-example discriminator logits on real inputs (packing off: each judged alone)."""
    x = batch["x"]
    if self.pack > 1:  # judge each example as a pack of copies of itself
      x = jnp.repeat(x, self.pack, axis=0)
    return self._disc(state.params["disc"], x, batch.get("label"), state.extra.get("spectral"))

  def eval_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict) -> dict:
    del rng, hp
    return {"disc_logit": self.discriminate(state, batch)}

  # --- training -----------------------------------------------------------------------

  def train_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict):
    rng = jax.random.fold_in(rng, state.step)
    reg_rng = jax.random.fold_in(rng, self.disc_steps + 1)  # augmentations, interpolates
    x_real, labels = batch["x"], batch.get("label")
    if not self.num_classes:
      labels = None
    b = x_real.shape[0]
    params, opt_state, extra = dict(state.params), dict(state.opt_state), dict(state.extra)
    metrics = {}
    for i in range(self.disc_steps):
      z = jax.random.normal(jax.random.fold_in(rng, i), (b, self.latent_dim))
      x_fake = jax.lax.stop_gradient(self._generate(params["gen"], z, labels))
      k_aug, k_eps = jax.random.split(jax.random.fold_in(reg_rng, i))
      aug = self._draw_augment(k_aug, x_real.shape)
      eps = jax.random.uniform(k_eps, (b,)) if "gp_lambda" in hp else None
      (_, metrics), grads = common.value_and_grad(
          self._disc_loss, self.micro_batches, split=(1, 2, 3, 4, 5), has_aux=True)(
              params["disc"], x_real, x_fake, labels, aug, eps, hp, extra.get("spectral"),
              extra.get("lecam"))
      if self.spectral_norm:
        extra["spectral"] = self._advance_spectral(params["disc"], extra["spectral"], x_real,
                                                   labels)
      if "lecam" in extra:
        extra["lecam"] = self._advance_lecam(extra["lecam"], metrics,
                                             state.step * self.disc_steps + i)
      updates, opt_state["disc"] = self.opt_disc.update(grads, opt_state["disc"], params["disc"])
      params["disc"] = optax.apply_updates(params["disc"], updates)
    z = jax.random.normal(jax.random.fold_in(rng, self.disc_steps), (b, self.latent_dim))
    aug = self._draw_augment(jax.random.fold_in(reg_rng, self.disc_steps), x_real.shape)
    g_loss, grads = common.value_and_grad(self._gen_loss, self.micro_batches, split=(2, 3, 4))(
        params["gen"], params["disc"], z, labels, aug, extra.get("spectral"))
    updates, opt_state["gen"] = self.opt_gen.update(grads, opt_state["gen"], params["gen"])
    params["gen"] = optax.apply_updates(params["gen"], updates)
    metrics = dict(metrics, g_loss=g_loss)
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state,
                         extra=extra), metrics

  def _disc_loss(self, disc_params, x_real, x_fake, labels, aug, eps, hp, spectral, anchors):
    if aug is not None:  # one draw for both: identical transforms for identical inputs
      x_real, x_fake = diffaugment.apply(x_real, aug), diffaugment.apply(x_fake, aug)
    disc = lambda x: self._disc(disc_params, x, labels, spectral)
    real = disc(x_real)
    fake = disc(x_fake)
    loss = gan_losses.discriminator_loss(self.loss, real, fake)
    r1 = jnp.zeros(())
    if "r1_gamma" in hp:
      r1 = gan_losses.r1_penalty(disc, x_real)
      loss = loss + 0.5 * hp["r1_gamma"] * r1
    extra_metrics = {}
    if eps is not None:
      gp = gan_losses.gradient_penalty(disc, gan_losses.interpolate(x_real, x_fake, eps),
                                       self.pack)
      loss = loss + hp["gp_lambda"] * gp
      extra_metrics["gp"] = gp
    if anchors is not None:
      lecam = gan_losses.lecam_penalty(real, fake, anchors["real"], anchors["fake"])
      loss = loss + hp["lecam_lambda"] * lecam
      extra_metrics.update(lecam=lecam, d_real_logit=jnp.mean(real), d_fake_logit=jnp.mean(fake))
    return loss, {"d_loss": loss, "d_real": jnp.mean(jax.nn.sigmoid(real)),
                  "d_fake": jnp.mean(jax.nn.sigmoid(fake)), "r1": r1, **extra_metrics}

  def _gen_loss(self, gen_params, disc_params, z, labels, aug, spectral):
    x_fake = self._generate(gen_params, z, labels)
    if aug is not None:
      x_fake = diffaugment.apply(x_fake, aug)
    fake = self._disc(disc_params, x_fake, labels, spectral)
    return gan_losses.generator_loss(self.loss, fake)

  def _draw_augment(self, key, x_shape):
    """DiffAugment's per-example parameters for the batch, or None when it is off."""
    return diffaugment.draw(key, self.augment, x_shape) if self.augment else None

  def _advance_spectral(self, disc_params, spectral, x_real, labels):
    """u after this step's power iteration on the kernels D was just evaluated with (the
    iteration does not depend on the input; one pack is fed for the shapes)."""
    packed_labels = None if labels is None else labels[:1]
    _, variables = self.discriminator.apply(
        {"params": disc_params, dcgan.SPECTRAL: spectral}, self._pack(x_real[:self.pack]),
        packed_labels, update_stats=True, mutable=[dcgan.SPECTRAL])
    return variables[dcgan.SPECTRAL]

  def _advance_lecam(self, anchors, metrics, n):
    """The EMAs of D's mean logits after discriminator update n (0-based), warmed up as
    min(0.99, (1 + n) / (10 + n)) so the first anchors follow the logits, not the zero start."""
    mean = {"real": metrics["d_real_logit"], "fake": metrics["d_fake_logit"]}
    return common.ema_update(anchors, jax.lax.stop_gradient(mean),
                             common.warmed_up_decay(_LECAM_DECAY, n))

  def _generate(self, gen_params, z, labels):
    return common.apply_net(self.precision, self.generator, gen_params, z, labels)

  def _disc(self, disc_params, x, labels, spectral=None):
    """Logits per pack of `self.pack` consecutive examples (per example when pack = 1);
    with spectral norm, `spectral` holds the power iteration's u (read, never advanced)."""
    packed_labels = None if labels is None else labels[::self.pack]
    collections = None if spectral is None else {dcgan.SPECTRAL: spectral}
    return common.apply_net(self.precision, self.discriminator, disc_params, self._pack(x),
                            packed_labels, collections=collections)

  def _pack(self, x):
    if self.pack == 1:
      return x
    b = x.shape[0]
    if self.image:  # [B, H, W, C] -> [B/m, H, W, m*C]
      x = x.reshape((b // self.pack, self.pack) + x.shape[1:])
      return jnp.moveaxis(x, 1, -2).reshape(x.shape[0], *x.shape[2:4], -1)
    return x.reshape(b // self.pack, -1)

  def _labels(self, num, cond):
    if not self.num_classes:
      return None
    if cond is None:
      return jnp.arange(num, dtype=jnp.int32) % self.num_classes
    return jnp.asarray(cond, jnp.int32)


class _VectorGenerator(nn.Module):
  """An MLP generator; image-shaped outputs go through a sigmoid into [0, 1]."""
  widths: tuple[int, ...]
  x_shape: tuple[int, ...]
  image: bool

  @nn.compact
  def __call__(self, z):
    size = 1
    for d in self.x_shape:
      size *= d
    out = mlp.MLP(self.widths, size)(z).reshape((z.shape[0],) + self.x_shape)
    return nn.sigmoid(out) if self.image else out
