"""VAE configs: the beta-VAE (beta = 1 is the VAE of Kingma & Welling) and its disentangling
variants, picked by model.objective (see genjax/models/vae_objectives.py).

  genjax train --config=configs/vae.py:sprites --config.hparams.beta=4 --workdir=runs/bvae4
  genjax train --config=configs/vae.py:sprites --config.model.objective=factorvae \
      --config.hparams.factor_gamma=40 --workdir=runs/factorvae40
  genjax train --config=configs/vae.py:dsprites \
      --config.data.path=/data/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz --workdir=runs/dsp4
  genjax train --config=configs/vae.py:shapes3d --config.data.path=/data/3dshapes.h5 --workdir=runs/s3d
  genjax train --config=configs/vae.py:mpi3d --config.data.path=/data/mpi3d_toy.npz --workdir=runs/mpi
  genjax train --config=configs/vae.py:celeba --config.data.data_dir=/data/tfds --workdir=runs/celeba
  genjax train --config=configs/vae.py:folder --config.data.path=/data/my_pngs --workdir=runs/mine

Variants: sprites (default; 64x64 dSprites-style, the conv nets of Burgess et al. 2018),
sprites32 (the same at 32x32: minutes on a 2-core CPU), digits (scikit-learn digits, MLP),
toy2d (2D mixtures, Gaussian decoder), smoke (tiny, for tests); the field's datasets, read
from the files their authors distribute (genjax never downloads them): dsprites (the
dSprites .npz), shapes3d (3dshapes.h5), mpi3d (mpi3d_{toy,realistic,real}.npz), celeba
(TFDS celeb_a prepared in data.data_dir, 64x64 crops), folder (a folder of PNG/JPEG images
at 64x64). They keep sprites' nets, beta 4 and Bernoulli decoder (disentanglement_lib's
choice for every dataset, a cross-entropy on colour values). Every variant holds the
hparams of every objective (objective_defaults), so any objective is one override away.
"""
from genjax import config as gconfig


def objective_defaults(c):
  """model.objective = 'beta' and every objective's settings, from disentanglement_lib.

  Its fixed settings (gamma, capacity_steps, the discriminator and its Adam) are those of
  Locatello et al. (2019)'s unsupervised study; the swept weights take a value from its
  sweep, listed in the comments. Weights are hparams: traced, so a sweep compiles once.
  """
  c.model.objective = "beta"  # beta, annealed, tcvae, factorvae, dip_i, dip_ii
  c.hparams.gamma = 1000.0  # annealed: weight of |KL - C|
  c.hparams.capacity_max = 25.0  # annealed: C_max in nats (5, 10, 25, 50, 75, 100)
  c.hparams.capacity_steps = 100_000.0  # annealed: steps for C to reach C_max
  c.hparams.tc_weight = 6.0  # tcvae: the weight of TC (1, 2, 4, 6, 8, 10); 1 = the VAE
  c.hparams.factor_gamma = 40.0  # factorvae: the weight of TC (10, 20, 30, 40, 50, 100)
  # dip: (1, 2, 5, 10, 20, 50); lambda_d = 10 lambda_od for DIP-I, lambda_od for DIP-II.
  c.hparams.lambda_od = 10.0
  c.hparams.lambda_d = 100.0
  c.model.disc_widths = (1000,) * 6  # factorvae's discriminator (Kim & Mnih 2018)
  c.optim.disc_learning_rate = 1e-4  # its Adam, as in the paper
  c.optim.disc_b1 = 0.5
  c.optim.disc_b2 = 0.9
  return c


def sprites():
  c = objective_defaults(gconfig.base_config())
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


def _field(name: str, **data):
  """sprites' model and schedule on another 64x64 dataset: data.name and its settings."""
  c = sprites()
  c.data.name = name
  c.data.update(data)
  return c


def dsprites():
  return _field("dsprites", path="")


def shapes3d():
  return _field("shapes3d", path="")


def mpi3d():
  return _field("mpi3d", path="")


def celeba():
  return _field("tfds:celeb_a", data_dir="")


def folder():
  return _field("folder", path="")


def digits():
  c = objective_defaults(gconfig.base_config())
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
  c = objective_defaults(gconfig.base_config())
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
  c.model.disc_widths = (32, 32)
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
      arg, dict(sprites=sprites, sprites32=sprites32, digits=digits, toy2d=toy2d, smoke=smoke,
                dsprites=dsprites, shapes3d=shapes3d, mpi3d=mpi3d, celeba=celeba, folder=folder),
      default="sprites")
