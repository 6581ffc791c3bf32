"""Supplies the sample-quality evaluators' judge: a digits classifier run, trained once and cached.

An evaluator that judges samples (`evals/judge.py`) reads the classifier's run directory
from `config.evals.<name>.judge`. Where that is unset, `supply` trains the classifier with
the runner (`models.classifier.digits_config` at the samples' resolution) into the cache
directory (`evals.<name>.cache_dir`, else genjax's cache root, `config.cache_root`), once per
resolution and config, and hands the evaluator its path before any evaluator runs. The
trainer comes in as an argument (the runner passes its own entry point), so this module
sits below the runner without an import circle.
"""
from __future__ import annotations

import os
from typing import Callable

import ml_collections

from genjax import config as gconfig
from genjax.evals import judge
from genjax.models.classifier import digits_config
from genjax.train import session

# (config, workdir) -> the final state: runner.train_and_evaluate.
Trainer = Callable[[ml_collections.ConfigDict, str], object]


def cache_dir(cfg) -> str:
  return cfg.get("cache_dir", "") or gconfig.cache_root()


def judge_run(image_side: int, cfg) -> tuple[ml_collections.ConfigDict, str]:
  """The classifier config for digits of `image_side` pixels and its cached run directory."""
  config = digits_config(image_side // 8)
  return config, os.path.join(
      cache_dir(cfg), f"digits_classifier_{image_side}px_{gconfig.fingerprint(config)}")


def trained_judge(image_side: int, cfg, train: Trainer) -> str:
  """The cached classifier run for digits of `image_side` pixels, trained on first use."""
  config, workdir = judge_run(image_side, cfg)
  if not os.path.exists(os.path.join(workdir, "evals", "accuracy.json")):
    print(f"genjax: training the digits classifier once into {workdir}", flush=True)
    train(config, workdir)
  return workdir


def digits_judge(image_side: int, cfg, train: Trainer) -> judge.Judge:
  """The classifier for digits of `image_side` pixels, trained on first use and opened."""
  workdir = trained_judge(image_side, cfg, train)
  return judge.from_run(session.open_trained(workdir), workdir)


def supply(evals: dict[str, ml_collections.ConfigDict], data_name: str, image_side: int,
           train: Trainer) -> dict[str, ml_collections.ConfigDict]:
  """`evals` with each judging evaluator that names no judge given the cached one's path.

  The evaluators' configs are copied, not changed: the run's config (and so its
  fingerprint and checkpoints) stays as the user wrote it; evals/NAME.json records the
  judge among the evaluator's settings.
  """
  out = {}
  for name, cfg in evals.items():
    if judge.needs_judge(data_name, cfg):
      cfg = ml_collections.ConfigDict(cfg.to_dict())
      cfg.judge = trained_judge(image_side, cfg, train)
    out[name] = cfg
  return out
