"""GAN and conditional-GAN configs.

  genjax train --config=configs/gan.py:grid25 --workdir=runs/gan_grid
  genjax train --config=configs/gan.py:cond_digits --workdir=runs/cgan

Variants: grid25 (default; the 25-Gaussian grid of the mode-collapse papers), ring8,
ring8_stable (LeCam, batch 32, 200k steps: 8 / 8 modes, 95.5 % high quality), grid25_stable
(LeCam, pack 2, batch 32, 220k steps: 25 / 25 modes, 90.6 %),
digits (unconditional, 16x16 conv), cond_digits (label-conditional), stacked_digits and
stacked_digits_pack2 (1,000 modes; plain and PacGAN2), stacked_digits_stable and
stacked_digits_pack2_stable (the generator EMA and 40k / 80k steps, pack 2 at batch 32:
998 and 1,000 / 1,000 modes, KL 0.092 and 0.094), smoke (tests).

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


def _long_with_generator_ema(c, num_steps: int, eval_every: int, checkpoint_every: int,
                             figure_every: int):
  """The stacked-digits recipe: the generator EMA 0.999 (sampled and evaluated) and
  `num_steps` updates at the constant learning rate. The per-digit skew that holds the KL
  above target shrinks with the number of updates (docs/gan_stabilisers.md); the schedule
  is constant, so num_steps does not change the trajectory and a shorter run is this one's
  prefix. The intervals are those of the measured runs, so these configs are theirs."""
  c.hparams.ema_decay = 0.999
  c.train.num_steps = num_steps
  c.train.eval_every = eval_every
  c.train.checkpoint_every = checkpoint_every
  c.train.figure_every = figure_every
  return c


def stacked_digits_stable():
  """stacked_digits with the generator EMA and 40k steps: 998 / 1,000 modes, KL to uniform
  0.092 (class_modes of the EMA, 10,000 samples; target >= 990 and <= 0.1; 30k steps: 999,
  0.105); re-drawn with other keys: 30,000 samples KL 0.055 (raw generator 0.057), four
  10,000-sample draws 0.082-0.095. About 36 min on 2 shared CPU cores:
  `genjax train --config=configs/gan.py:stacked_digits_stable --workdir=runs/sd_stable`.

  Measured as a 20k run resumed to 40k (train.num_steps=20000, then 40000) with this
  config's keys; one seed.
  """
  return _long_with_generator_ema(stacked_digits(), 40_000, eval_every=10_000,
                                  checkpoint_every=10_000, figure_every=20_000)


def stacked_digits_pack2_stable():
  """stacked_digits_pack2 with the generator EMA, batch 32 and 80k steps: 1,000 / 1,000
  modes, KL to uniform 0.094 (class_modes of the EMA, 10,000 samples; target >= 990 and
  <= 0.1; 70k: 1,000, 0.104; 75k: 999, 0.105); re-drawn with other keys: 30,000 samples
  KL 0.062 (raw generator 0.064), four 10,000-sample draws 0.090-0.094. About 18 min on 2
  shared CPU cores:
  `genjax train --config=configs/gan.py:stacked_digits_pack2_stable --workdir=runs/sdp_stable`.

  Pack 2 needs about twice the updates of the plain GAN for the same KL; batch 32 makes a
  step ~2.7x cheaper here and gave the same KL per update as batch 64 (0.147 vs 0.148 at 30k,
  0.130 vs 0.125 at 40k). Measured as a 10k run resumed to 40k and then 80k
  (train.num_steps=10000, 40000, 80000) with this config's keys; one seed.
  """
  c = _long_with_generator_ema(stacked_digits_pack2(), 80_000, eval_every=5_000,
                               checkpoint_every=10_000, figure_every=10_000)
  c.data.batch_size = 32
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
                stacked_digits_stable=stacked_digits_stable,
                stacked_digits_pack2_stable=stacked_digits_pack2_stable,
                smoke=smoke),
      default="grid25")
