"""Classifier configs: the judges and feature extractors of the sample-quality evaluators.

  genjax train --config=configs/classifier.py:digits --workdir=runs/clf

Variants: digits (8x8, MLP), digits16 (upscaled to 16x16, conv; the resolution of the GAN
digit configs), smoke. A sample-quality evaluator takes such a run as its judge
(--config.evals.NAME.judge=runs/clf); without one, genjax train and eval train the same
config (genjax.models.classifier.digits_config) once into a cache.
"""
from genjax import config as gconfig
from genjax.models.classifier import digits_config


def smoke():
  c = digits_config(1)
  c.train.num_steps = 40
  c.train.log_every = 20
  c.train.checkpoint_every = 40
  c.train.eval_every = 40
  return c


def get_config(arg=None):
  return gconfig.pick_variant(
      arg, dict(digits=lambda: digits_config(1), digits16=lambda: digits_config(2),
                smoke=smoke), default="digits")
