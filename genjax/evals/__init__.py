"""Evaluators (the uses of a trained model), chosen by config.evals.<name>.type."""
from __future__ import annotations

import difflib
import json
import os
from typing import Callable

import jax
import ml_collections

from genjax import config as gconfig
from genjax.errors import ConfigError, EvaluationFailed, GenjaxError
from genjax.evals import accuracy, class_modes, elbo, modes, nll_bound, recon, translation
from genjax.evals import likelihood, memorisation, ode_likelihood, outliers, per_class, quality
from genjax.evals import disentanglement, features, interpolation, traversal
from genjax.evals.context import EvalContext, check_eval_size

EVALUATORS = {
    "accuracy": accuracy.run,
    "class_modes": class_modes.run,
    "disentanglement": disentanglement.run,
    "elbo": elbo.run,
    "features": features.run,
    "interpolation": interpolation.run,
    "likelihood": likelihood.run,
    "memorisation": memorisation.run,
    "modes": modes.run,
    "nll_bound": nll_bound.run,
    "ode_likelihood": ode_likelihood.run,
    "outliers": outliers.run,
    "per_class": per_class.run,
    "quality": quality.run,
    "recon": recon.run,
    "traversal": traversal.run,
    "translation": translation.run,
}


def resolve(names: list[str], evals_cfg: ml_collections.ConfigDict) -> dict[str, ml_collections.ConfigDict]:
  """Eval names (from --evals or config.evals) -> their configs; a bare name is its own type."""
  out = {}
  for name in names:
    cfg = evals_cfg[name] if name in evals_cfg else ml_collections.ConfigDict({"type": name})
    if cfg.type not in EVALUATORS:
      close = difflib.get_close_matches(cfg.type, list(EVALUATORS), n=1)
      hint = f" (did you mean '{close[0]}'?)" if close else ""
      raise ConfigError(f"unknown evaluator '{cfg.type}'{hint}; known: {sorted(EVALUATORS)}")
    out[name] = cfg
  return out


# Evaluators that read the held-out split in whole eval batches, and the option (if any)
# that sets how many examples they read instead of data.num_eval.
_READS_BATCHES = {"accuracy": None, "elbo": None, "per_class": None, "recon": None,
                  "translation": None, "nll_bound": "num_examples",
                  "ode_likelihood": "num_examples"}


def check_sizes(evals: dict[str, ml_collections.ConfigDict], data_cfg, held_out: int,
                dataset: str) -> None:
  """Refuses, before any work, an evaluator that would read no whole held-out batch."""
  for name, cfg in evals.items():
    if cfg.type not in _READS_BATCHES:
      continue
    option = _READS_BATCHES[cfg.type]
    if option and option in cfg:
      num, key = int(cfg[option]), f"config.evals.{name}.{option}"
    else:
      num, key = int(data_cfg.num_eval), "data.num_eval"
    check_eval_size(int(data_cfg.eval_batch_size), num, held_out, dataset, key)


def run_evals(ctx: EvalContext, evals: dict[str, ml_collections.ConfigDict],
              on_result: Callable[[str, dict], None] | None = None) -> dict[str, dict]:
  """Runs each evaluator and writes evals/NAME.json with the step and config fingerprint.

  One evaluator refusing (a GenjaxError: a missing capability, a size) does not stop the
  others: each finished one is written (and passed to `on_result`), then one
  EvaluationFailed names every refusal.
  """
  results, failures = {}, []
  fingerprint = ctx.run_fingerprint or gconfig.fingerprint(ctx.config)
  for name, cfg in evals.items():
    try:
      numbers = EVALUATORS[cfg.type](ctx, cfg)
    except GenjaxError as e:
      failures.append(f"evaluator '{name}': {e}")
      continue
    results[name] = numbers
    if jax.process_index() == 0:
      os.makedirs(ctx.path("evals"), exist_ok=True)
      record = {"evaluator": cfg.type, "step": ctx.step, "config_fingerprint": fingerprint,
                "params": ctx.params, "settings": cfg.to_dict(), "metrics": numbers}
      with open(ctx.path("evals", f"{name}.json"), "w") as f:
        json.dump(record, f, indent=2)
    if on_result is not None:
      on_result(name, numbers)
  if failures:
    done = f" ({len(results)} other(s) finished and were written)" if results else ""
    raise EvaluationFailed("; ".join(failures) + done, results)
  return results
