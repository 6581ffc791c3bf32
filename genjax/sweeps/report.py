"""`genjax report --sweep=runs/<study>`: every member's numbers in one CSV, and the study's figures.

Reads only files: `sweep.json` (members and their overrides), each member's `status.json`,
the last training line of `metrics.jsonl` and the newest `evals/*.json`. Writes

  sweep.csv         one row per member: name, status, swept keys, train/... and eval metrics
  sweep_<x>.png     each metric against the swept axis x (e.g. beta): mean and spread over
                    seeds, one line per remaining swept setting (e.g. model.objective)
  sweep_box.png     where members differ in a non-numeric key (e.g. model.objective): the
                    metric distributions per setting side by side (Locatello et al. 2019,
                    Fig. 7-style box plots)
  sweep_report.md   the table of means and standard deviations, and links to the figures
"""
from __future__ import annotations

import csv
import json
import math
import os

import numpy as np

from genjax.errors import CheckpointError
from genjax.sweeps.launch import SWEEP_FILE
from genjax.sweeps.member import STATUS_FILE
from genjax.train.log import read_metrics

_SEED_KEYS = ("seed",)
# Panels drawn per figure, in this order when present (any other eval metric follows).
_PREFERRED = ("recon.mse_per_dim", "elbo.rec_nats", "elbo.kl_nats", "elbo.nelbo_nats",
              "disentanglement.mig", "disentanglement.factorvae_score",
              "disentanglement.betavae_score", "disentanglement.dci_disentanglement",
              "disentanglement.dci_completeness", "disentanglement.sap")
# Bookkeeping, not results: kept in the CSV, never drawn.
_NOT_DRAWN = ("seconds", "num_examples", "train_accuracy", "step", "active_dims")
_MAX_PANELS = 12


def write_sweep_report(root: str) -> str:
  """Writes the CSV, figures and sweep_report.md of the sweep under `root`; returns the .md path."""
  rows, swept = collect(root)
  csv_path = os.path.join(root, "sweep.csv")
  metric_keys = sorted({k for r in rows for k in r if "." in k and k not in swept
                        and _is_number(r[k])}, key=_metric_order)
  columns = ["name", "status"] + swept + metric_keys
  with open(csv_path, "w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
  axis, groups = _axes(rows, swept)
  eval_metrics = _panels(metric_keys)
  figures = []
  done = [r for r in rows if r["status"] in ("done", "running")]
  if axis and eval_metrics and done:
    figures.append(_draw_curves(root, done, axis, groups, eval_metrics))
  box_groups = _box_groups(rows, swept)
  if box_groups and eval_metrics and done:
    figures.append(_draw_boxes(root, done, box_groups, eval_metrics))
  path = os.path.join(root, "sweep_report.md")
  with open(path, "w") as f:
    f.write("\n".join(_markdown(root, rows, swept, axis, groups, eval_metrics, figures)) + "\n")
  return path


def collect(root: str) -> tuple[list[dict], list[str]]:
  """One flat dict per member and the swept keys (in the order the sweep file gave them)."""
  sweep_path = os.path.join(root, SWEEP_FILE)
  if not os.path.isfile(sweep_path):
    raise CheckpointError(f"no sweep in '{root}' (no {SWEEP_FILE}); run genjax sweep "
                          f"--workdir={root} first")
  with open(sweep_path) as f:
    sweep = json.load(f)
  swept: list[str] = []
  for member in sweep["members"]:
    swept += [k for k in member["overrides"] if k not in swept]
  rows = []
  for member in sweep["members"]:
    workdir = os.path.join(root, member["name"])
    status = _read_json(os.path.join(workdir, STATUS_FILE)) or {}
    row = {"name": member["name"],
           "status": status.get("status", "running" if os.path.isdir(workdir) else "not started")}
    row.update(member["overrides"])
    row.update({f"train.{k}": v for k, v in _last_train_metrics(workdir).items()})
    evals_dir = os.path.join(workdir, "evals")
    for name in sorted(os.listdir(evals_dir)) if os.path.isdir(evals_dir) else []:
      record = _read_json(os.path.join(evals_dir, name)) if name.endswith(".json") else None
      if record and isinstance(record.get("metrics"), dict):
        row.update({f"{name[:-5]}.{k}": v for k, v in record["metrics"].items()
                    if _is_number(v)})
    rows.append(row)
  return rows, swept


def _last_train_metrics(workdir: str) -> dict:
  last = {}
  for record in read_metrics(os.path.join(workdir, "metrics.jsonl")):
    if record.get("split") == "train":
      last = record
  return {k: v for k, v in last.items() if k not in ("split",) and _is_number(v)}


def _axes(rows: list[dict], swept: list[str]) -> tuple[str | None, list[str]]:
  """The x axis (the numeric swept key every member sets, with most values, not the seed)
  and the other keys every member sets (one curve per combination)."""
  candidates = [k for k in swept if k not in _SEED_KEYS and all(k in r for r in rows)]
  numeric = [k for k in candidates if all(_is_number(r[k]) for r in rows)]
  axis = max(numeric, key=lambda k: len({r[k] for r in rows}), default=None)
  return axis, [k for k in candidates if k != axis]


def _box_groups(rows: list[dict], swept: list[str]) -> list[str]:
  """Non-numeric swept settings (e.g. model.objective): one box per value."""
  return [k for k in swept if k not in _SEED_KEYS
          and not all(_is_number(r.get(k)) for r in rows if k in r)]


def _series(rows, axis, groups, metric):
  """{group label: (x values, means, stds, counts)} over seeds."""
  out: dict[str, dict] = {}
  for r in rows:
    if not _is_number(r.get(metric)):
      continue
    label = ", ".join(f"{g.rpartition('.')[2]}={r.get(g)}" for g in groups) or "all"
    out.setdefault(label, {}).setdefault(r.get(axis), []).append(float(r[metric]))
  series = {}
  for label, by_x in out.items():
    xs = sorted(by_x)
    series[label] = (xs, [np.mean(by_x[x]) for x in xs], [np.std(by_x[x]) for x in xs],
                     [len(by_x[x]) for x in xs])
  return series


def _draw_curves(root, rows, axis, groups, metrics) -> str:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  cols = min(3, len(metrics))
  nrows = math.ceil(len(metrics) / cols)
  fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
  xs_all = [r[axis] for r in rows if _is_number(r.get(axis))]
  log_x = min(xs_all) > 0 and max(xs_all) / min(xs_all) >= 10
  for ax, metric in zip(axes.flat, metrics):
    for label, (xs, means, stds, _) in _series(rows, axis, groups, metric).items():
      ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=label)
    ax.set_title(metric, fontsize=9)
    ax.set_xlabel(axis)
    if log_x:
      ax.set_xscale("log")
  for ax in list(axes.flat)[len(metrics):]:
    ax.axis("off")
  if groups:
    axes.flat[0].legend(fontsize=7)
  fig.suptitle(f"mean ± std over seeds against {axis}", fontsize=10)
  fig.tight_layout()
  name = f"sweep_{axis.rpartition('.')[2]}.png"
  fig.savefig(os.path.join(root, name), dpi=110)
  plt.close(fig)
  return name


def _draw_boxes(root, rows, groups, metrics) -> str:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  cols = min(3, len(metrics))
  nrows = math.ceil(len(metrics) / cols)
  fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
  labels = sorted({", ".join(str(r.get(g)) for g in groups) for r in rows})
  for ax, metric in zip(axes.flat, metrics):
    data = [[float(r[metric]) for r in rows if _is_number(r.get(metric))
             and ", ".join(str(r.get(g)) for g in groups) == label] for label in labels]
    ax.boxplot(data, tick_labels=labels)
    ax.set_title(metric, fontsize=9)
    ax.tick_params(axis="x", labelrotation=30, labelsize=7)
  for ax in list(axes.flat)[len(metrics):]:
    ax.axis("off")
  fig.suptitle(f"distribution over every member, by {', '.join(groups)}", fontsize=10)
  fig.tight_layout()
  fig.savefig(os.path.join(root, "sweep_box.png"), dpi=110)
  plt.close(fig)
  return "sweep_box.png"


def _markdown(root, rows, swept, axis, groups, metrics, figures) -> list[str]:
  counts = {}
  for r in rows:
    counts[r["status"]] = counts.get(r["status"], 0) + 1
  lines = [f"# Sweep report: {os.path.basename(os.path.normpath(root))}", "",
           f"{len(rows)} members ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))}); "
           f"swept keys: {', '.join(f'`{k}`' for k in swept)}. Every number is in `sweep.csv`.", ""]
  failed = [r for r in rows if r["status"] == "failed"]
  if failed:
    lines += ["Failed members:", ""]
    for r in failed:
      reason = (_read_json(os.path.join(root, r["name"], STATUS_FILE)) or {}).get("reason", "")
      lines.append(f"- `{r['name']}`: {reason}")
    lines.append("")
  if not axis and metrics and _box_groups(rows, swept):  # e.g. one grid per objective
    groups, axis = _box_groups(rows, swept)[:-1], _box_groups(rows, swept)[-1]
  if axis and metrics:
    header = [*groups, axis, "n", *metrics]
    lines += ["Mean ± standard deviation over seeds:", "",
              "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    keyed: dict[tuple, dict] = {}
    for r in rows:
      if r["status"] in ("done", "running"):
        keyed.setdefault(tuple(r.get(k) for k in [*groups, axis]), []).append(r)
    for key in sorted(keyed, key=lambda k: tuple(map(str, k[:-1])) + (k[-1],)):
      members = keyed[key]
      cells = [str(v) for v in key] + [str(len(members))]
      for m in metrics:
        values = [float(r[m]) for r in members if _is_number(r.get(m))]
        cells.append(_mean_std(values))
      lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
  lines += [f"![{name}]({name})" for name in figures]
  return lines


def _mean_std(values: list[float]) -> str:
  """'mean ± std' over seeds; the mean alone for one value (a spread of one is not 0)."""
  if not values:
    return ""
  return f"{np.mean(values):.4g}" + (f" ± {np.std(values):.2g}" if len(values) > 1 else "")


def _panels(metric_keys: list[str]) -> list[str]:
  """The metrics worth a panel: the preferred ones present, else the other eval results."""
  preferred = [k for k in _PREFERRED if k in metric_keys]
  if preferred:
    return preferred
  return [k for k in metric_keys if not k.startswith("train.")
          and not k.rpartition(".")[2].endswith(_NOT_DRAWN)
          and not k.rpartition(".")[2][-1:].isdigit()][:_MAX_PANELS]


def _metric_order(key: str) -> tuple:
  return (_PREFERRED.index(key) if key in _PREFERRED else len(_PREFERRED),
          key.startswith("train."), key)


def _is_number(value) -> bool:
  return (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value))


def _read_json(path: str):
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None
