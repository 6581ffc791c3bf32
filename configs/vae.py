"""beta-VAE configs (beta = 1 is the VAE of Kingma & Welling).

  genjax train --config=configs/vae.py:sprites --config.hparams.beta=4 --workdir=runs/bvae4

Variants: sprites (default; 64x64 dSprites-style, the conv nets of Burgess et al. 2018),
sprites32 (the same at 32x32: minutes on a 2-core CPU), digits (scikit-learn digits, MLP),
toy2d (2D mixtures, Gaussian decoder), smoke (tiny, for tests).
"""
from genjax import config as gconfig


def sprites():
  c = gconfig.base_config()
  c.model.family = "vae"
  c.hparams.beta = 4.0
  c.optim.learning_rate = 5e-4
  c.train.num_steps = 100_000
  c.train.log_every = 200
  c.train.checkpoint_every = 2000
  c.train.eval_every = 2000
  c.train.figure_every = 2000
  return c


def sprites32():
  c = sprites()
  c.data.resolution = 32
  c.train.num_steps = 3000
  c.train.log_every = 100
  c.train.checkpoint_every = 500
  c.train.eval_every = 1000
  c.train.figure_every = 1000
  return c


def digits():
  c = gconfig.base_config()
  c.data.name = "digits"
  c.data.eval_batch_size = 297
  c.data.num_eval = 297
  c.model.net = "mlp"
  c.model.latent_dim = 8
  c.hparams.beta = 1.0
  c.optim.learning_rate = 1e-3
  c.train.num_steps = 5000
  c.train.log_every = 100
  c.train.checkpoint_every = 1000
  c.train.eval_every = 1000
  c.train.figure_every = 1000
  c.train.steps_per_call = 20
  return c


def toy2d():
  c = gconfig.base_config()
  c.data.name = "toy2d"
  c.data.toy = "ring8"
  c.data.batch_size = 256
  c.data.eval_batch_size = 1000
  c.data.num_eval = 10_000
  c.model.net = "mlp"
  c.model.widths = (128, 128)
  c.model.latent_dim = 2
  c.model.likelihood = "gaussian"
  c.hparams.beta = 1.0
  c.optim.learning_rate = 1e-3
  c.train.num_steps = 5000
  c.train.log_every = 250
  c.train.checkpoint_every = 1000
  c.train.eval_every = 1000
  c.train.figure_every = 1000
  c.train.steps_per_call = 50
  return c


def smoke():
  """A few seconds on a CPU: 16x16 sprites, narrow nets."""
  c = sprites()
  c.data.resolution = 16
  c.data.batch_size = 16
  c.data.num_test = 256
  c.data.eval_batch_size = 64
  c.data.num_eval = 128
  c.model.channels = 8
  c.model.hidden = 32
  c.model.latent_dim = 4
  c.optim.learning_rate = 1e-3
  c.train.num_steps = 20
  c.train.log_every = 5
  c.train.checkpoint_every = 10
  c.train.eval_every = 10
  c.train.figure_every = 10
  c.train.num_figure_samples = 16
  return c


def get_config(arg=None):
  return gconfig.pick_variant(
      arg, dict(sprites=sprites, sprites32=sprites32, digits=digits, toy2d=toy2d, smoke=smoke),
      default="sprites")
