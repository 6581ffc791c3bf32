"""The disentangling-VAE study's config: the beta-VAE study's sprites VAE at a smaller scale.

  genjax sweep --sweep=experiments/disentangling_vaes/sweep.py --workdir=runs/disentangling_vaes \
      --launcher=vectorized

Variants:
- cpu (default): 32x32 sprites, NUM_STEPS steps, and disentanglement protocol sizes cut
  from disentanglement_lib's (10,000 / 5,000 points; BetaVAE and FactorVAE votes from
  batches of 64) to 2,000 / 1,000 points and 1,000 / 500 votes, so that 108 members (six
  objectives x six settings x three seeds) finish on two CPU cores in about an hour. The
  smaller protocol adds sampling noise to each score (about +-0.02 for the vote-based scores
  at 500 evaluation votes), well below the spread over seeds.
- full: experiments/beta_vae_sprites' full scale (64x64, 300,000 steps, full protocol).
"""
import os

import ml_collections

from genjax import config as gconfig

_STUDY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "beta_vae_sprites",
                      "config.py")
NUM_STEPS = 2000


def cpu() -> ml_collections.ConfigDict:
  c = gconfig.load_config(f"{_STUDY}:long")  # the smaller protocol sizes
  c.train.num_steps = NUM_STEPS
  c.train.checkpoint_every = 500
  c.train.eval_every = NUM_STEPS
  c.train.figure_every = NUM_STEPS
  # FactorVAE's discriminator: 3 x 256 instead of the paper's 6 x 1,000, whose 36x the
  # multiply-adds made a FactorVAE member 7x slower than any other on a CPU (the TC of a
  # 10-D code needs no more); only the factorvae objective uses it.
  c.model.disc_widths = (256,) * 3
  return c


def full() -> ml_collections.ConfigDict:
  return gconfig.load_config(f"{_STUDY}:full")


def get_config(arg=None):
  return gconfig.pick_variant(arg, {"cpu": cpu, "full": full}, default="cpu")
