"""The rare-events study's config: the digits MLP VAE trained with one class made rare.

  genjax sweep --sweep=experiments/rare_events/sweep.py --workdir=runs/rare_events \
      --launcher=vectorized --population_mode=loop

configs/vae.py:digits (MLP VAE, 8 latent dims, beta 1) with data.rare_class (default 8)
kept at data.rare_fraction = 2 % of its training examples (3 of 150; the test split is
untouched), and data.resample = 'none' (the baseline), 'latent_density' (Amini et al.
2019's debiasing) or 'latent_knn' (its joint kNN-density variant; genjax/train/resample.py).
Every member is evaluated once, at its last step, on the whole held-out split (297 digits,
about 30 per class): elbo, recon and per_class (error and -ELBO per class, the rare class
against the common ones, and each class's outlier AUROC: how much the model's -ELBO singles
the class out; 0.5 = not at all).
"""
import os

from genjax import config as gconfig

_VAE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs", "vae.py")
RARE_CLASS = 8


def cpu():
  c = gconfig.load_config(f"{_VAE}:digits")
  c.data.rare_class = RARE_CLASS
  c.data.rare_fraction = 0.02
  c.data.resample = "none"  # the sweep sets 'latent_density' / 'latent_knn' for the debiased arms
  c.data.resample_every = 500
  c.data.resample_alpha = 1.0
  c.data.resample_bins = 10
  c.train.num_steps = 3000
  c.train.checkpoint_every = 1000
  c.train.eval_every = c.train.num_steps
  c.train.figure_every = c.train.num_steps
  c.evals = dict(elbo=dict(type="elbo"), recon=dict(type="recon"),
                 per_class=dict(type="per_class"))
  return c


def get_config(arg=None):
  return gconfig.pick_variant(arg, {"cpu": cpu}, default="cpu")
