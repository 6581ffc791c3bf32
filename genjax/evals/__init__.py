"""Evaluators (the uses of a trained model), chosen by config.evals.<name>.type."""
from __future__ import annotations

import difflib
import json
import os

import jax
import ml_collections

from genjax import config as gconfig
from genjax.errors import ConfigError
from genjax.evals import accuracy, class_modes, elbo, modes, nll_bound, recon, translation
from genjax.evals import likelihood, memorisation, outliers, per_class, quality
from genjax.evals import disentanglement, features, interpolation, traversal
from genjax.evals.context import EvalContext

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


def run_evals(ctx: EvalContext, evals: dict[str, ml_collections.ConfigDict]) -> dict[str, dict]:
  """Runs each evaluator and writes evals/NAME.json with the step and config fingerprint."""
  results = {}
  for name, cfg in evals.items():
    numbers = EVALUATORS[cfg.type](ctx, cfg)
    results[name] = numbers
    if jax.process_index() == 0:
      os.makedirs(ctx.path("evals"), exist_ok=True)
      record = {"evaluator": cfg.type, "step": ctx.step,
                "config_fingerprint": gconfig.fingerprint(ctx.config), "settings": cfg.to_dict(),
                "metrics": numbers}
      with open(ctx.path("evals", f"{name}.json"), "w") as f:
        json.dump(record, f, indent=2)
  return results
