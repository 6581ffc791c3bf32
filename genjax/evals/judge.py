"""The genjax classifier that judges generated digits, trained once and cached on disk.

Sample-quality evaluators need a network that knows the data: we train our own (no
downloaded Inception weights) with the ordinary runner on scikit-learn's digits, at the
resolution of the samples, and keep its run directory under the cache directory
(`evals.<name>.cache_dir`, else $GENJAX_CACHE, else ~/.cache/genjax). Its held-out
accuracy is reported next to every number it produces.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jax
import ml_collections
import numpy as np

from genjax import config as gconfig


def classifier_config(upscale: int = 1) -> ml_collections.ConfigDict:
  """The digits classifier: an MLP at 8x8, a conv net when upscaled to 16x16 or more."""
  c = gconfig.base_config()
  c.data.name = "digits"
  c.data.upscale = upscale
  c.data.batch_size = 100
  c.data.eval_batch_size = 297
  c.data.num_eval = 297
  c.model = dict(family="classifier", net="mlp" if upscale == 1 else "conv", widths=(256,),
                 hidden=128, channels=32)
  c.hparams = dict()
  c.optim.learning_rate = 1e-3
  c.train.num_steps = 2000
  c.train.steps_per_call = 20
  c.train.log_every = 200
  c.train.checkpoint_every = 2000
  c.train.eval_every = 1000
  c.train.figure_every = 0
  c.evals = dict(accuracy=dict(type="accuracy"))
  return c


@dataclasses.dataclass
class Judge:
  """A trained digits classifier: per-image class predictions and features."""
  family: Any
  state: Any
  accuracy: float

  def classes(self, x_NHW1: np.ndarray, batch: int = 1000) -> np.ndarray:
    logits = jax.jit(self.family.logits)
    return np.concatenate([np.asarray(logits(self.state, x_NHW1[i:i + batch])).argmax(-1)
                           for i in range(0, len(x_NHW1), batch)])

  def features(self, x_NHW1: np.ndarray, batch: int = 1000) -> np.ndarray:
    features = jax.jit(self.family.features)
    return np.concatenate([np.asarray(features(self.state, x_NHW1[i:i + batch]))
                           for i in range(0, len(x_NHW1), batch)])


def cache_dir(cfg) -> str:
  return (cfg.get("cache_dir", "") or os.environ.get("GENJAX_CACHE")
          or os.path.join(os.path.expanduser("~"), ".cache", "genjax"))


def judge_run(image_side: int, cfg) -> tuple[ml_collections.ConfigDict, str]:
  """The classifier config for digits of `image_side` pixels and its cached run directory."""
  config = classifier_config(image_side // 8)
  return config, os.path.join(
      cache_dir(cfg), f"digits_classifier_{image_side}px_{gconfig.fingerprint(config)}")


def digits_judge(image_side: int, cfg) -> Judge:
  """The classifier for digits of `image_side` pixels, trained on first use and cached."""
  from genjax.train import runner, session  # pylint: disable=g-import-not-at-top  # cycle
  config, workdir = judge_run(image_side, cfg)
  if not os.path.exists(os.path.join(workdir, "evals", "accuracy.json")):
    print(f"genjax: training the digits classifier once into {workdir}", flush=True)
    runner.train_and_evaluate(config, workdir)
  _, ctx = session.load_trained(workdir)
  with open(os.path.join(workdir, "evals", "accuracy.json")) as f:
    accuracy = json.load(f)["metrics"]["accuracy"]
  return Judge(family=ctx.family, state=ctx.state, accuracy=accuracy)
