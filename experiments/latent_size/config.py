"""The compression study's configs: an autoencoder and a VAE whose latent size is swept.

  genjax sweep --sweep=experiments/latent_size/sweep_digits.py \
      --config=experiments/latent_size/config.py:ae_digits --workdir=runs/latent_size/ae_digits

Variants: ae_digits, vae_digits (configs/autoencoder.py:digits and configs/vae.py:digits,
the MLP nets, 3,000 steps), ae_sprites32, vae_sprites32 (the 32x32 conv nets of the
`sprites32` variants, 2,000 steps) and ae_dsprites, vae_dsprites (the real dSprites file at
64x64, 2,000 steps; pass --config.data.path=.../dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz
to `genjax sweep`, and plot with plot.py --datasets=dsprites). The VAE is the plain VAE (beta = 1), so its held-out
KL is the rate and its reconstruction term the distortion of Alemi et al. (2018). Every
member is evaluated once, at its last step: recon (both models), elbo (the VAE only: the
autoencoder has no KL) and features (a linear probe on the codes: class accuracy on
digits, R^2 per ground-truth factor on sprites).
"""
import os

import ml_collections

from genjax import config as gconfig

_CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs")
_FAMILY_FILE = {"ae": "autoencoder.py", "vae": "vae.py"}


def _study(family: str, variant: str, num_steps: int) -> ml_collections.ConfigDict:
  c = gconfig.load_config(f"{os.path.join(_CONFIGS, _FAMILY_FILE[family])}:{variant}")
  if family == "vae":
    c.hparams.beta = 1.0
  c.train.num_steps = num_steps
  c.train.checkpoint_every = num_steps
  c.train.eval_every = num_steps
  c.train.figure_every = num_steps
  evals = dict(recon=dict(type="recon"),
               features=dict(type="features", num_train=5000, num_test=5000))
  if family == "vae":
    evals["elbo"] = dict(type="elbo")
  c.evals = evals
  return c


def ae_digits():
  return _study("ae", "digits", 3000)


def vae_digits():
  return _study("vae", "digits", 3000)


def ae_sprites32():
  return _study("ae", "sprites32", 2000)


def vae_sprites32():
  return _study("vae", "sprites32", 2000)


def ae_dsprites():
  return _study("ae", "dsprites", 2000)


def vae_dsprites():
  return _study("vae", "dsprites", 2000)


def get_config(arg=None):
  return gconfig.pick_variant(
      arg, dict(ae_digits=ae_digits, vae_digits=vae_digits, ae_sprites32=ae_sprites32,
                vae_sprites32=vae_sprites32, ae_dsprites=ae_dsprites,
                vae_dsprites=vae_dsprites), default="vae_digits")
