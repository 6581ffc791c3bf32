"""The beta-VAE study's config: configs/vae.py's sprites beta-VAE, evaluated for disentanglement.

  genjax sweep --sweep=experiments/beta_vae_sprites/sweep.py --workdir=runs/beta_vae_sprites \
      --launcher=vectorized

Variants: cpu (default; 32x32 sprites, 3,000 steps: what a 2-core machine finishes), long
(the same for 10,000 steps, evaluated every 2,500 with the smaller disentanglement protocol
of experiments/disentangling_vaes: does the trend need longer training?) and full (64x64
sprites, 300,000 steps with batch 64, as in disentanglement_lib).
Every member is evaluated at its last step with elbo, recon and disentanglement (the
disentanglement_lib protocol sizes: 10,000 training and 5,000 evaluation points).
"""
import os

import ml_collections

from genjax import config as gconfig

_VAE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "vae.py")


def _with_study_evals(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  c.evals = dict(elbo=dict(type="elbo"), recon=dict(type="recon"),
                 disentanglement=dict(type="disentanglement"))
  c.train.eval_every = c.train.num_steps
  c.train.figure_every = c.train.num_steps
  return c


def cpu():
  c = gconfig.load_config(f"{_VAE}:sprites32")
  c.train.num_steps = 3000
  c.train.log_every = 100
  c.train.checkpoint_every = 500
  return _with_study_evals(c)


def long():
  c = cpu()
  c.train.num_steps = 10_000
  c.train.checkpoint_every = 2000
  c.train.eval_every = 2500
  c.train.figure_every = 10_000
  c.evals.disentanglement.update(
      num_train=2000, num_eval=1000, betavae_num_train=1000, betavae_num_eval=500,
      factorvae_num_train=1000, factorvae_num_eval=500)
  return c


def full():
  c = gconfig.load_config(f"{_VAE}:sprites")
  c.train.num_steps = 300_000
  c.train.checkpoint_every = 5000
  return _with_study_evals(c)


def get_config(arg=None):
  return gconfig.pick_variant(arg, {"cpu": cpu, "long": long, "full": full}, default="cpu")
