"""Normalizing-flow configs (RealNVP/Glow couplings): exact densities of 2D mixtures and digits.

  genjax train --config=configs/flow.py:ring8 --workdir=runs/flow_ring8
  genjax train --config=configs/flow.py:grid25 --workdir=runs/flow_grid25
  genjax train --config=configs/flow.py:digits --workdir=runs/flow_digits
  genjax eval --workdir=runs/flow_digits --evals=likelihood,outliers,interpolation,traversal

Variants: ring8 (default) and grid25 (2D mixtures: the exact NLL of held-out points beside
the mixture's closed-form density, and modes), digits (8x8 scikit-learn digits flattened
to 64 dims, uniformly dequantised on their 17 counts: bits/dim of the likelihood table's
digits row), smoke (tiny, for tests). Model keys (checked by genjax/models/flow.py):
widths (each coupling's MLP), num_couplings (flow steps), logit_alpha (images' logit
transform), levels (images: pixel values k / levels).
"""
from genjax import config as gconfig


def _base():
  c = gconfig.base_config()
  c.model = dict(family="flow", widths=(128, 128), num_couplings=8, logit_alpha=0.05)
  c.optim.learning_rate = 1e-3
  c.optim.schedule = "cosine"
  c.optim.warmup_steps = 200
  c.optim.grad_clip = 1.0
  return c


def ring8():
  """8 Gaussians on the unit circle (std 0.01); the held-out points of the likelihood table."""
  c = _base()
  c.data.name = "toy2d"
  c.data.toy = "ring8"
  c.data.batch_size = 512
  c.data.eval_batch_size = 1000
  c.data.num_eval = 2000
  c.train.num_steps = 10_000
  c.train.steps_per_call = 50
  c.train.log_every = 500
  c.train.checkpoint_every = 2500
  c.train.eval_every = 10_000
  c.train.figure_every = 5000
  c.train.num_figure_samples = 2000
  c.evals = dict(nll=dict(type="nll_bound", num_examples=2000),
                 modes=dict(type="modes", num_samples=100_000, min_count=1))
  return c


def grid25():
  """25 Gaussians on {-4, ..., 4}^2 (std 0.05)."""
  c = ring8()
  c.data.toy = "grid25"
  return c


def digits():
  """8x8 digits as 64-dim vectors, dequantised on the counts 0..16 (model.levels = 16)."""
  c = _base()
  c.data.name = "digits"
  c.data.batch_size = 128
  c.data.eval_batch_size = 99
  c.data.num_eval = 297
  c.model.levels = 16
  c.model.widths = (256, 256)
  c.model.num_couplings = 8
  c.train.num_steps = 5000
  c.train.steps_per_call = 50
  c.train.log_every = 250
  c.train.checkpoint_every = 1000
  c.train.eval_every = 5000
  c.train.figure_every = 1000
  c.train.num_figure_samples = 100
  c.evals = dict(nll=dict(type="nll_bound", num_examples=297),
                 outliers=dict(type="outliers", ood="noise"),
                 interpolation=dict(type="interpolation", num_pairs=4, num_steps=10),
                 traversal=dict(type="traversal", num_values=9))
  return c


def smoke():
  """A few seconds on a CPU: ring8, two narrow couplings."""
  c = ring8()
  c.data.batch_size = 32
  c.data.num_test = 256
  c.data.eval_batch_size = 64
  c.data.num_eval = 64
  c.model.widths = (32, 32)
  c.model.num_couplings = 2
  c.optim.schedule = "constant"  # a run extended from 10 to 20 steps keeps its rates
  c.optim.warmup_steps = 0
  c.train.num_steps = 20
  c.train.steps_per_call = 1
  c.train.log_every = 5
  c.train.checkpoint_every = 10
  c.train.eval_every = 10
  c.train.figure_every = 10
  c.train.num_figure_samples = 64
  c.evals = dict(nll=dict(type="nll_bound", num_examples=64),
                 modes=dict(type="modes", num_samples=1000, min_count=1))
  return c


def get_config(arg=None):
  return gconfig.pick_variant(
      arg, dict(ring8=ring8, grid25=grid25, digits=digits, smoke=smoke), default="ring8")
