"""The beta-VAE study of Locatello et al. (2019) as disentanglement_lib ran it, on dSprites.

  genjax sweep --sweep=experiments/beta_vae_dsprites/sweep.py --workdir=runs/bvae_dsprites \
      --launcher=vectorized                                  # our 64x64 dSprites renderer
  genjax sweep --sweep=experiments/beta_vae_dsprites/sweep.py --workdir=runs/bvae_dsprites_file \
      --launcher=vectorized --config.data.name=dsprites \
      --config.data.path=/data/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz   # the real file

What is disentanglement_lib's (its `unsupervised_study_v1` model configs): the conv encoder
and deconv decoder of its architectures.py (`model.net=dislib_conv`), 10 latents, a Bernoulli
decoder, Adam with learning rate 1e-4 (b1 0.9, b2 0.999, eps 1e-8), batch 64, 300,000 steps,
the metrics at its protocol sizes (10,000 training and 5,000 evaluation points). Data: 64x64
binary dSprites, from the file when `data.name=dsprites` and `data.path` are given, else our
renderer of the same factor grid (`data.name=sprites`, resolution 64).

Variants: full (the 300,000 steps; a GPU, or SLURM with --launcher=slurm), cpu (default: the
same models and protocol for 3,000 steps, what 2 CPU cores finish in an afternoon) and smoke
(a few steps and a tiny protocol, for tests).
"""
import os

import ml_collections

from genjax import config as gconfig

_VAE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "vae.py")


def full() -> ml_collections.ConfigDict:
  c = gconfig.load_config(f"{_VAE}:sprites")
  c.data.resolution = 64
  c.data.batch_size = 64
  c.model.net = "dislib_conv"
  c.model.latent_dim = 10
  c.model.likelihood = "bernoulli"
  c.hparams.beta = 4.0
  c.optim.update(name="adam", learning_rate=1e-4, b1=0.9, b2=0.999, eps=1e-8,
                 schedule="constant", warmup_steps=0)
  c.train.num_steps = 300_000
  c.train.log_every = 1000
  c.train.checkpoint_every = 10_000
  c.train.eval_every = c.train.num_steps
  c.train.figure_every = c.train.num_steps
  c.evals = dict(elbo=dict(type="elbo"), recon=dict(type="recon"),
                 disentanglement=dict(type="disentanglement"))
  return c


def cpu() -> ml_collections.ConfigDict:
  c = full()
  c.train.num_steps = 3000
  c.train.log_every = 100
  c.train.checkpoint_every = 500
  c.train.eval_every = c.train.num_steps
  c.train.figure_every = c.train.num_steps
  return c


def smoke() -> ml_collections.ConfigDict:
  c = cpu()
  c.data.batch_size = 16
  c.data.num_test = 256
  c.data.eval_batch_size = 64
  c.data.num_eval = 128
  c.train.num_steps = 4
  c.train.log_every = 2
  c.train.checkpoint_every = 4
  c.train.eval_every = 4
  c.train.figure_every = 4
  c.evals.disentanglement.update(
      num_train=200, num_eval=100, betavae_num_train=40, betavae_num_eval=20,
      betavae_batch_size=8, factorvae_num_train=40, factorvae_num_eval=20,
      factorvae_batch_size=8)
  return c


def get_config(arg=None):
  return gconfig.pick_variant(arg, {"full": full, "cpu": cpu, "smoke": smoke}, default="cpu")
