"""GAN and conditional-GAN configs.

  genjax train --config=configs/gan.py:grid25 --workdir=runs/gan_grid
  genjax train --config=configs/gan.py:cond_digits --workdir=runs/cgan

Variants: grid25 (default; the 25-Gaussian grid of the mode-collapse papers), ring8,
ring8_stable (LeCam, batch 32, 200k steps: 8 / 8 modes, 95.5 % high quality), grid25_stable
(LeCam, pack 2, batch 32, 220k steps: 25 / 25 modes, 90.6 %),
digits (unconditional, 16x16 conv), cond_digits (label-conditional), stacked_digits and
stacked_digits_pack2 (1,000 modes; plain and PacGAN2), smoke (tests).

Discriminator stabilisers, each off unless set (models/gan.py; measured arms in
docs/gan_stabilisers.md): --config.model.spectral_norm=True, --config.model.diffaugment=
translation,cutout,color (images only), --config.hparams.gp_lambda=10 (with
--config.model.loss=wasserstein for WGAN-GP), --config.hparams.lecam_lambda=0.1, and TTUR
through --config.optim.disc_learning_rate.
"""
from genjax import config as gconfig


def _base():
  c = gconfig.base_config()
  c.model = dict(family="gan", net="mlp", latent_dim=16, widths=(256, 256, 256), channels=32,
                 loss="non_saturating", disc_steps=1, pack=1, conditional=False)
  c.hparams = dict(r1_gamma=0.0)
  c.optim.learning_rate = 2e-4
  c.optim.b1 = 0.5
  c.optim.disc_learning_rate = 0.0
  c.evals = dict()
  return c


def grid25():
  """24/25 modes, 83 % high quality after 100k steps (~12 min on a free 2-core CPU)."""
  c = _base()
  c.data.name = "toy2d"
  c.data.toy = "grid25"
  c.data.batch_size = 256
  c.data.eval_batch_size = 1000
  c.data.num_eval = 10_000
  c.hparams.r1_gamma = 0.01
  c.optim.learning_rate = 2e-4
  c.optim.schedule = "linear"
  c.train.num_steps = 100_000
  c.train.steps_per_call = 50
  c.train.log_every = 500
  c.train.checkpoint_every = 25_000
  c.train.eval_every = 25_000
  c.train.figure_every = 25_000
  c.train.num_figure_samples = 2000
  c.evals = dict(modes=dict(type="modes", num_samples=100_000, min_count=1))
  return c


def ring8():
  c = grid25()
  c.data.toy = "ring8"
  return c


def _many_updates_with_lecam(c, num_steps: int):
  """The stable toy recipe: LeCam 0.1, the generator EMA, batch 32 and `num_steps` updates,
  evaluated halfway and at the end."""
  c.hparams.lecam_lambda = 0.1
  c.hparams.ema_decay = 0.999
  c.data.batch_size = 32
  c.train.num_steps = num_steps
  c.train.checkpoint_every = c.train.eval_every = c.train.figure_every = num_steps // 2
  return c


def ring8_stable():
  """ring8 with LeCam, a small batch and many updates: 8 / 8 modes, 95.5 % high quality,
  reverse KL 0.0015 (the EMA; the raw generator 95.1 %) after 200k steps, ~10 min on 2 shared
  CPU cores: `genjax train --config=configs/gan.py:ring8_stable --workdir=runs/ring8_stable`.

  The remaining misses of the LeCam arm are bridges (samples on the arc between adjacent
  modes) and tails, which shrink with the number of generator updates rather than with the
  examples seen; hence batch 32 and 200k steps (docs/gan_stabilisers.md).
  """
  return _many_updates_with_lecam(ring8(), 200_000)


def grid25_stable():
  """grid25 with LeCam, PacGAN2, a small batch and many updates: 25 / 25 modes, 90.6 % high
  quality, reverse KL 0.0033 (the EMA; the raw generator 90.6 %) after 220k steps, ~9 min on
  2 shared CPU cores: `genjax train --config=configs/gan.py:grid25_stable --workdir=runs/g25s`.

  Packing evens the mass over the modes (KL 0.93 -> 0.015 at 100k updates); the seams between
  modes then shrink with generator updates, as on ring8 (docs/gan_stabilisers.md).
  """
  c = _many_updates_with_lecam(grid25(), 220_000)
  c.model.pack = 2
  return c


def digits():
  c = _base()
  c.data.name = "digits"
  c.data.upscale = 2
  c.data.batch_size = 64
  c.data.eval_batch_size = 99
  c.data.num_eval = 297
  c.model.net = "conv"
  c.model.channels = 32
  c.model.latent_dim = 32
  c.hparams.r1_gamma = 1.0  # without it the discriminator wins outright within 500 steps
  c.train.num_steps = 3000
  c.train.steps_per_call = 1  # conv: see runner.make_multistep
  c.train.log_every = 250
  c.train.checkpoint_every = 1000
  c.train.eval_every = 3000
  c.train.figure_every = 1000
  c.evals = dict(class_modes=dict(type="class_modes", num_samples=10_000, cache_dir=""))
  return c


def cond_digits():
  c = digits()
  c.model.conditional = True
  return c


def stacked_digits():
  """Three digits as colour channels: 1,000 modes (the stacked-MNIST analogue)."""
  c = digits()
  c.data.name = "stacked_digits"
  c.data.eval_batch_size = 100
  c.data.num_eval = 1000
  return c


def stacked_digits_pack2():
  c = stacked_digits()
  c.model.pack = 2
  return c


def smoke():
  c = grid25()
  c.optim.schedule = "constant"  # a decay over num_steps would differ between 10 and 20 steps
  c.data.batch_size = 32
  c.model.widths = (32, 32)
  c.train.num_steps = 20
  c.train.steps_per_call = 1
  c.train.log_every = 5
  c.train.checkpoint_every = 10
  c.train.eval_every = 10
  c.train.figure_every = 10
  c.train.num_figure_samples = 64
  c.evals.modes.num_samples = 2000
  return c


def get_config(arg=None):
  return gconfig.pick_variant(
      arg, dict(grid25=grid25, ring8=ring8, ring8_stable=ring8_stable,
                grid25_stable=grid25_stable, digits=digits, cond_digits=cond_digits,
                stacked_digits=stacked_digits, stacked_digits_pack2=stacked_digits_pack2,
                smoke=smoke),
      default="grid25")
