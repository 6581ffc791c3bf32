"""The rare-events study's table and figure, from the sweep's run directories.

  python experiments/rare_events/report.py --root=runs/rare_events \
      --out=experiments/rare_events/rare_events.png

Reads <root>/sweep.json (the members and their overrides), each member's
evals/per_class.json and its metrics.jsonl 'resample' lines. For a rare class R every arm
is scored the same way, the balanced reference (trained on all digits) included: R's
held-out MSE per dim and -ELBO, the other classes' pooled, their gap, R's outlier AUROC,
and, for resampled runs, the weights' effective sample size over N and the probability mass
the weights put on R over its share of the training set ("lift": 1 = uniform sampling),
both averaged over the run's resampling steps. Prints the README's markdown table (means
+- standard deviations over seeds, ddof 1) and draws the figure.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from genjax import config as gconfig
from genjax.train.log import read_metrics

BALANCED = "balanced (all data)"
BASELINE = "rare, uniform sampling"


def arm_name(overrides: dict) -> str:
  if overrides.get("data.rare_class", 0) < 0:
    return BALANCED
  method = overrides.get("data.resample", "none")
  if method == "none":
    return BASELINE
  if method == "latent_knn":
    cap = overrides.get("data.resample_max_ratio", gconfig.OPTIONAL["data.resample_max_ratio"])
    return f"rare, kNN-resampled (alpha {overrides['data.resample_alpha']:g}, cap {cap:g})"
  return f"rare, resampled (alpha {overrides['data.resample_alpha']:g})"


def member_numbers(workdir: str, rare_class: int) -> dict[str, float] | None:
  """One member's numbers for rare class R, or None if it has not been evaluated."""
  path = os.path.join(workdir, "evals", "per_class.json")
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    m = json.load(f)["metrics"]
  others = [c for c in range(10) if c != rare_class]
  n = np.array([m[f"num_c{c}"] for c in others], float)
  out = {"auroc": m[f"auroc_c{rare_class}"]}
  for metric in ("mse_per_dim", "nelbo_nats"):
    rare = m[f"{metric}_c{rare_class}"]
    common = float(np.dot(n, [m[f"{metric}_c{c}"] for c in others]) / n.sum())
    out.update({f"rare_{metric}": rare, f"common_{metric}": common, f"gap_{metric}": rare - common})
  events = [r for r in read_metrics(os.path.join(workdir, "metrics.jsonl"))
            if r.get("split") == "resample"]
  if events:
    out["ess_fraction"] = float(np.mean([e["ess_fraction"] for e in events]))
    out["lift"] = float(np.mean([e["rare_class_mass"] / e["rare_class_share"] for e in events]))
  return out


def collect(root: str) -> tuple[list[int], list[str], dict]:
  """(rare classes, arms in order, {(R, arm): [numbers per seed]})."""
  with open(os.path.join(root, "sweep.json")) as f:
    members = json.load(f)["members"]
  classes = sorted({m["overrides"]["data.rare_class"] for m in members} - {-1})
  arms = list(dict.fromkeys(arm_name(m["overrides"]) for m in members))
  rows: dict = {}
  for m in members:
    r = m["overrides"]["data.rare_class"]
    for c in (classes if r < 0 else [r]):
      got = member_numbers(os.path.join(root, m["name"]), c)
      if got is not None:
        rows.setdefault((c, arm_name(m["overrides"])), []).append(got)
  return classes, arms, rows


def _cell(values: list[float], fmt: str) -> str:
  if not values:
    return "-"
  std = np.std(values, ddof=1) if len(values) > 1 else 0.0
  return f"{np.mean(values):{fmt}} ± {std:{fmt}}"


def table(classes, arms, rows) -> list[str]:
  lines = ["| rare class | arm | seeds | rare MSE/dim | common MSE/dim | gap | gap / baseline gap "
           "| -ELBO gap (nats) | rare-class AUROC | ESS / N | rare-class weight lift |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
  for c in classes:
    base = rows.get((c, BASELINE), [])
    base_gap = np.mean([r["gap_mse_per_dim"] for r in base]) if base else np.nan
    for arm in arms:
      got = rows.get((c, arm), [])
      if not got:
        continue
      col = lambda k: [r[k] for r in got if k in r]
      ratio = np.mean(col("gap_mse_per_dim")) / base_gap
      lines.append(
          f"| {c} | {arm} | {len(got)} | {_cell(col('rare_mse_per_dim'), '.4f')} | "
          f"{_cell(col('common_mse_per_dim'), '.4f')} | {_cell(col('gap_mse_per_dim'), '.4f')} | "
          f"{ratio:.2f} | {_cell(col('gap_nelbo_nats'), '.2f')} | {_cell(col('auroc'), '.2f')} | "
          f"{_cell(col('ess_fraction'), '.3f')} | {_cell(col('lift'), '.2f')} |")
  return lines


def _tick(arm: str) -> str:
  """A short two-line axis label for an arm (the long names overlap under the bars)."""
  if arm in (BALANCED, BASELINE):
    return {BALANCED: "balanced\n(all data)", BASELINE: "rare,\nuniform"}[arm]
  kind = "kNN" if "kNN" in arm else "histogram"
  return f"{kind}\n{arm[arm.index('('):]}".replace(", cap", ",\ncap")


def draw(classes, arms, rows, out: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, len(classes), figsize=(4.8 * len(classes), 3.9), sharey=True)
  width = 0.38
  for ax, c in zip(np.atleast_1d(axes), classes):
    shown = [a for a in arms if (c, a) in rows]
    x = np.arange(len(shown))
    for offset, key, color, label in ((-width / 2, "rare_mse_per_dim", "C3", f"class {c}"),
                                      (width / 2, "common_mse_per_dim", "0.6", "other classes")):
      values = [[r[key] for r in rows[c, a]] for a in shown]
      ax.bar(x + offset, [np.mean(v) for v in values], width, color=color, label=label,
             yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for v in values], capsize=3)
    ax.set_xticks(x)
    ax.set_xticklabels([_tick(a) for a in shown], fontsize=7)
    ax.set_title(f"rare class {c} (2 % of its training digits)", fontsize=9)
    ax.legend(fontsize=7)
  np.atleast_1d(axes)[0].set_ylabel("held-out MSE per dim (mean ± std, 3 seeds)")
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
  fig.savefig(out, dpi=110)
  plt.close(fig)


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--root", default="runs/rare_events")
  parser.add_argument("--out", default="experiments/rare_events/rare_events.png")
  args = parser.parse_args()
  classes, arms, rows = collect(args.root)
  print("\n".join(table(classes, arms, rows)))
  draw(classes, arms, rows, args.out)
  print(f"figure: {args.out}")


if __name__ == "__main__":
  main()
