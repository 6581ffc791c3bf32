"""Classifier configs: the judges and feature extractors of the sample-quality evaluators.

  genjax train --config=configs/classifier.py:digits --workdir=runs/clf

Variants: digits (8x8, MLP), digits16 (upscaled to 16x16, conv; the resolution of the GAN
digit configs), smoke. The evaluators build the same configs through
genjax.evals.judge.classifier_config and cache the trained classifier.
"""
from genjax import config as gconfig
from genjax.evals.judge import classifier_config


def smoke():
  c = classifier_config(1)
  c.train.num_steps = 40
  c.train.log_every = 20
  c.train.checkpoint_every = 40
  c.train.eval_every = 40
  return c


def get_config(arg=None):
  return gconfig.pick_variant(
      arg, dict(digits=lambda: classifier_config(1), digits16=lambda: classifier_config(2),
                smoke=smoke), default="digits")
