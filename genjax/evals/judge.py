"""The digits classifier that judges generated digits, opened from its run directory.

Sample-quality evaluators (quality and memorisation in feature space, class_modes) need a
network that knows the data: a genjax classifier (no downloaded Inception weights),
trained by the runner like any model (`configs/classifier.py`). An evaluator gets its run
directory as `config.evals.<name>.judge` and only reads it; when that is unset, `genjax
train` and `genjax eval` train one once into a cache before the evaluators run
(`genjax/train/judge.py`). Its held-out accuracy is reported next to every number it
produces.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import jax
import numpy as np

from genjax.core import family as contract
from genjax.errors import ConfigError

DIGITS_LIKE = ("digits", "stacked_digits")
_JUDGED = ("class_modes", "memorisation", "quality")


@dataclasses.dataclass
class Judge:
  """A trained digits classifier: per-image class predictions and features."""
  family: Any  # a contract.Classifier
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


def feature_space(data_name: str, cfg) -> str:
  """'features' (the judge's) for digits-like data unless cfg.space says 'pixels'."""
  default = "features" if data_name in DIGITS_LIKE else "pixels"
  space = str(cfg.get("space", "") or default)
  if space not in ("features", "pixels"):
    raise ConfigError(f"evals space='{space}' is unknown; use 'features' or 'pixels'")
  if space == "features" and data_name not in DIGITS_LIKE:
    raise ConfigError(f"space='features' needs digits-like data ({', '.join(DIGITS_LIKE)}); "
                      f"data.name is '{data_name}': use space='pixels'")
  return space


def needs_judge(data_name: str, cfg) -> bool:
  """True when evaluator config `cfg` will judge with the classifier and names none.

  A setting the evaluator will refuse counts as no need: the refusal is its to report.
  """
  if cfg.type not in _JUDGED or cfg.get("judge", ""):
    return False
  if cfg.type == "class_modes":
    return data_name in DIGITS_LIKE
  try:
    return feature_space(data_name, cfg) == "features"
  except ConfigError:
    return False


def from_run(run_ctx, workdir: str) -> Judge:
  """The judge held by an opened classifier run (its EvalContext) in `workdir`."""
  path = os.path.join(workdir, "evals", "accuracy.json")
  if not contract.has(run_ctx.family, contract.Classifier) or not os.path.isfile(path):
    raise ConfigError(f"judge '{workdir}' is not a trained classifier run (no {path}); "
                      "train one with genjax train --config=configs/classifier.py:digits")
  with open(path) as f:
    accuracy = json.load(f)["metrics"]["accuracy"]
  return Judge(family=run_ctx.family, state=run_ctx.state, accuracy=accuracy)


def load(ctx, cfg, evaluator: str) -> Judge:
  """The judge at `cfg.judge` for evaluator `evaluator` of context `ctx`, checked against
  the resolution of ctx's data."""
  workdir = str(cfg.get("judge", ""))
  if not workdir:
    raise ConfigError(f"evaluator '{evaluator}' needs config.evals.<name>.judge, the run "
                      "directory of a digits classifier (genjax train "
                      "--config=configs/classifier.py:digits); genjax train and eval supply "
                      "a cached one when it is unset")
  run_ctx = ctx.open_run(workdir)
  side, want = int(run_ctx.info.x_shape[0]), int(ctx.info.x_shape[0])
  if side != want:
    raise ConfigError(f"judge '{workdir}' classifies {side}x{side} digits but the samples are "
                      f"{want}x{want}; train one at that size (configs/classifier.py)")
  return from_run(run_ctx, workdir)
