"""Deterministic autoencoder configs: the VAE's nets with a point code and no KL.

  genjax train --config=configs/autoencoder.py:sprites --workdir=runs/ae

Variants: sprites (default), sprites32, digits, toy2d, smoke, and the field's datasets
dsprites, shapes3d, mpi3d, celeba, folder (as in configs/vae.py: pass data.path). The reconstruction loss
follows model.likelihood: 'bernoulli' (cross-entropy, for [0, 1] images) or 'gaussian'
(squared error with unit variance, i.e. MSE / 2 in nats). The `recon` evaluator reports it
on held-out data (the VAE's `elbo` needs a prior this model lacks).
"""
import importlib.util
import os

from genjax import config as gconfig

_spec = importlib.util.spec_from_file_location(
    "genjax_vae_config", os.path.join(os.path.dirname(__file__), "vae.py"))
_vae = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_vae)


def _as_autoencoder(make):
  def variant():
    c = make()
    c.model.family = "autoencoder"
    c.hparams = dict()
    # no prior, so no ELBO: the evaluator that applies to a point code is reconstruction
    c.evals = dict(recon=dict(type="recon"))
    return c
  return variant


def get_config(arg=None):
  variants = {name: _as_autoencoder(getattr(_vae, name))
              for name in ("sprites", "sprites32", "digits", "toy2d", "smoke", "dsprites",
                           "shapes3d", "mpi3d", "celeba", "folder")}
  return gconfig.pick_variant(arg, variants, default="sprites")
