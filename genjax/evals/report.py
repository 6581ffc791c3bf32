"""`genjax report --workdir=DIR`: one readable report.md of a run, built from its files alone.

Reads what the runner and the evaluators left in the run directory (config.json,
metrics.jsonl, checkpoints/, evals/*.json, figures/*.png) and writes DIR/report.md: the
config summary, the latest training metrics, each evaluation's numbers as a table (with
the step and whether it came from this config), and every figure as a relative link, so
the file renders next to its figures on GitHub or in any Markdown viewer. It loads no model
and computes nothing: pure file reading, so it runs wherever the directory can be read.
"""
from __future__ import annotations

import json
import math
import os
import sys

from genjax import config as gconfig

REPORT_NAME = "report.md"
_SECTIONS = ("data", "model", "hparams", "optim", "train")


def write_report(workdir: str, best: tuple[str, str, int, float] | None = None) -> str:
  """Writes `workdir`/report.md and returns its path.

  Args:
    workdir: a run directory written by `genjax train` (and perhaps `genjax eval`).
    best: for `--step=best`: (train.keep_best, its mode, the best step, its value); the
      report then opens with that step and the evaluations logged at it.

  Returns:
    The path of the report.

  Raises:
    CheckpointError: when `workdir` holds no run, or its config.json is unreadable.
  """
  config = gconfig.read_saved(workdir)
  lines = _header(workdir, config)
  lines += _config_section(config)
  if best is not None:
    lines += _best_section(workdir, *best)
  lines += _training_section(workdir)
  lines += _evals_section(workdir, gconfig.fingerprint(config))
  lines += _figures_section(workdir)
  path = os.path.join(workdir, REPORT_NAME)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.write("\n".join(lines).rstrip() + "\n")
  os.replace(tmp, path)  # a reader never sees half a report
  return path


def format_value(value) -> str:
  """A metric or config value as table text: floats to 5 significant digits."""
  if isinstance(value, bool) or value is None:
    text = str(value)
  elif isinstance(value, float):
    text = f"{value:.5g}" if math.isfinite(value) else str(value)
  elif isinstance(value, (list, tuple)):
    text = ", ".join(format_value(v) for v in value)
  else:
    text = str(value)
  return text.replace("|", "\\|")


def table(rows: list[tuple[str, object]],
          header: tuple[str, str] = ("metric", "value")) -> list[str]:
  """A two-column Markdown table."""
  out = [f"| {header[0]} | {header[1]} |", "|---|---|"]
  out += [f"| {format_value(k)} | {format_value(v)} |" for k, v in rows]
  return out + [""]


def _header(workdir: str, config) -> list[str]:
  name = os.path.basename(os.path.normpath(workdir)) or workdir
  steps = _checkpoint_steps(workdir)
  latest = f"latest checkpoint at step {steps[-1]}" if steps else "no checkpoint yet"
  return [f"# Run report: {name}", "",
          f"Model family `{config.model.family}` on dataset `{config.data.name}`, "
          f"{config.train.num_steps} steps planned, {latest}; config fingerprint "
          f"`{gconfig.fingerprint(config)}`.", "",
          "Written by `genjax report` from the files in this directory (config.json, "
          "metrics.jsonl, evals/, figures/).", ""]


def _config_section(config) -> list[str]:
  lines = ["## Configuration", ""]
  flat = gconfig.flatten(config.to_dict())
  rows = [(k, flat[k]) for k in sorted(flat) if k.split(".")[0] in _SECTIONS + ("seed",)]
  lines += table(rows, header=("key", "value"))
  evals = sorted(config.evals.keys()) if "evals" in config else []
  if evals:
    shown = ", ".join(f"`{n}` ({config.evals[n].get('type', n)})" for n in evals)
    lines += [f"Evaluators configured to run during training: {shown}.", ""]
  return lines


def _training_section(workdir: str) -> list[str]:
  lines = ["## Training", ""]
  records = _read_jsonl(os.path.join(workdir, "metrics.jsonl"))
  train = [r for r in records if r.get("split") == "train"]
  if not train:
    return lines + ["No training metrics logged yet (metrics.jsonl is missing or empty).", ""]
  latest = train[-1]
  rows = [(k, v) for k, v in latest.items() if k not in ("step", "split")]
  lines += [f"Latest logged step: {latest['step']} (means over the steps since the previous "
            f"log; {len(train)} logs in metrics.jsonl).", ""]
  return lines + table(rows)


def _best_section(workdir: str, key: str, mode: str, step: int, value: float) -> list[str]:
  lines = ["## Best checkpoint", "",
           f"Step {step} has the best `{key}` ({mode}): {format_value(value)}; "
           f"`genjax eval|sample --step=best` use it. Its evaluations during training:", ""]
  at_step = [r for r in _read_jsonl(os.path.join(workdir, "metrics.jsonl"))
             if r.get("step") == step and str(r.get("split", "")).startswith("eval/")]
  for record in at_step:
    lines += [f"### {record['split'][5:]} at step {step}", ""]
    lines += table([(k, v) for k, v in record.items() if k not in ("step", "split")])
  return lines


def _evals_section(workdir: str, fingerprint: str) -> list[str]:
  lines = ["## Evaluations", ""]
  folder = os.path.join(workdir, "evals")
  names = sorted(n for n in os.listdir(folder)
                 if n.endswith(".json")) if os.path.isdir(folder) else []
  if not names:
    return lines + ["No evaluations yet; run `genjax eval --workdir=...`.", ""]
  for file_name in names:
    try:
      with open(os.path.join(folder, file_name)) as f:
        record = json.load(f)
    except (OSError, ValueError):
      lines += [f"### {file_name[:-5]}", "", f"evals/{file_name} is unreadable (not JSON).", ""]
      continue
    origin = ("this config" if record.get("config_fingerprint") == fingerprint
              else f"another config ({record.get('config_fingerprint')})")
    lines += [f"### {file_name[:-5]}", "",
              f"Evaluator `{record.get('evaluator', '?')}` at step {record.get('step', '?')}, "
              f"from {origin}.", ""]
    lines += table(list(record.get("metrics", {}).items()))
  return lines


def _figures_section(workdir: str) -> list[str]:
  lines = ["## Figures", ""]
  folder = os.path.join(workdir, "figures")
  names = sorted(n for n in os.listdir(folder)
                 if n.lower().endswith((".png", ".jpg", ".svg"))) if os.path.isdir(folder) else []
  if not names:
    return lines + ["No figures yet.", ""]
  for name in names:
    stem = os.path.splitext(name)[0]
    lines += [f"### {stem}", "", f"![{stem}](figures/{name})", ""]
  return lines


def _checkpoint_steps(workdir: str) -> list[int]:
  folder = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(folder):
    return []
  return sorted(int(n) for n in os.listdir(folder) if n.isdigit())


def _read_jsonl(path: str) -> list[dict]:
  if not os.path.isfile(path):
    return []
  records = []
  with open(path, errors="replace") as f:
    for number, line in enumerate(f, 1):
      try:
        record = json.loads(line) if line.strip() else None
      except ValueError:
        record = ""
      if isinstance(record, dict):
        records.append(record)
      elif record is not None:  # a line cut short by a killed run; the others still count
        print(f"genjax: warning: {path} line {number} is torn or not a record; skipped it",
              file=sys.stderr, flush=True)
  return records
