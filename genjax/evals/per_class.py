"""The `per_class` evaluator: held-out reconstruction error and -ELBO per class, and a rare class's gap.

Over the held-out split's first data.num_eval labelled examples, per class c: the squared
error of the decoder mean per dimension (`mse_per_dim_c{c}`, the `recon` evaluator's number),
the reconstruction NLL (`rec_nats_c{c}`) and, for a VAE, the one-sample negative ELBO
(`nelbo_nats_c{c}`), the example count, and `auroc_c{c}`: how well the `outliers` evaluator's
score (a VAE's one-sample -ELBO, an autoencoder's squared error; higher = more outlying)
tells class c from the other classes (0.5: c looks as typical as the rest). With a rare class R (cfg.rare_class, by default
the run's data.rare_class; -1 for none) each metric is also reported for R (`rare_*`), for
the other classes' examples pooled (`common_*`), as their difference (`gap_*` = rare - common)
and their ratio (`ratio_*`), and R's AUROC as `rare_auroc`. Figure: figures/per_class.png, the error per class.
"""
from __future__ import annotations

import os

import jax
import numpy as np

from genjax import config as gconfig
from genjax.core import family as contract
from genjax.errors import ConfigError
from genjax.evals import outliers
from genjax.evals.context import EvalContext

# eval_step's per-example terms -> the reported name (sq_err divided by the data dimension).
_TERMS = (("sq_err", "mse_per_dim"), ("rec", "rec_nats"), ("nelbo", "nelbo_nats"))


def summarise(labels_N: np.ndarray, values: dict[str, np.ndarray], num_classes: int,
              rare_class: int, score_N: np.ndarray | None = None) -> dict[str, float]:
  """Per-class means of each metric [N] (and one-vs-rest AUROCs of an outlier score [N]),
  and the rare class against the pooled others."""
  out: dict[str, float] = {}
  for c in range(num_classes):
    of_c = labels_N == c
    out[f"num_c{c}"] = int(of_c.sum())
    for name, v_N in values.items():
      out[f"{name}_c{c}"] = float(v_N[of_c].mean()) if of_c.any() else float("nan")
    if score_N is not None and of_c.any() and not of_c.all():
      out[f"auroc_c{c}"] = outliers.separation(score_N[~of_c], score_N[of_c])["auroc"]
  if rare_class >= 0:
    rare = labels_N == rare_class
    if not rare.any() or rare.all():
      raise ConfigError(f"per_class: rare_class={rare_class} leaves no rare or no common "
                        "held-out examples; raise data.num_eval or pick another class")
    for name, v_N in values.items():
      r, c = float(v_N[rare].mean()), float(v_N[~rare].mean())
      out.update({f"rare_{name}": r, f"common_{name}": c, f"gap_{name}": r - c,
                  f"ratio_{name}": r / c})
    if score_N is not None:
      out["rare_auroc"] = out[f"auroc_c{rare_class}"]
  return out


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  ctx.require(contract.Family, evaluator="per_class")
  if not ctx.info.num_classes:
    raise ConfigError(f"evaluator 'per_class' needs labelled data; '{ctx.info.name}' has none")
  rare_class = int(cfg.get("rare_class", gconfig.optional(ctx.config, "data.rare_class")))
  eval_step = ctx.jit("eval_step")
  terms = ctx.per_example(lambda state, batch, rng: eval_step(state, batch, rng, ctx.hp))
  n = len(next(iter(terms.values())))
  labels_N = ctx.first_examples(n)["label"]
  values = {name: terms[key] / (ctx.info.num_dims if key == "sq_err" else 1.0)
            for key, name in _TERMS if key in terms}
  score_N = terms["nelbo"] if "nelbo" in terms else terms.get("sq_err")
  out = summarise(labels_N, values, ctx.info.num_classes, rare_class, score_N)
  if jax.process_index() == 0 and "mse_per_dim" in values:
    _bars(ctx.path("figures", "per_class.png"), out, ctx.info.num_classes, rare_class)
  return out


def _bars(path: str, out: dict, num_classes: int, rare_class: int) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fig, ax = plt.subplots(figsize=(5, 3), dpi=100)
  classes = np.arange(num_classes)
  ax.bar(classes, [out[f"mse_per_dim_c{c}"] for c in classes],
         color=["C3" if c == rare_class else "C0" for c in classes])
  ax.set_xticks(classes)
  ax.set_xlabel("class" + (f" (red: rare class {rare_class})" if rare_class >= 0 else ""))
  ax.set_ylabel("held-out MSE per dim")
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
