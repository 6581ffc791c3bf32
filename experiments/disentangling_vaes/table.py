"""The disentangling study's tables, from the sweep.csv that `genjax report --sweep` writes.

  python experiments/disentangling_vaes/table.py --sweep=runs/disentangling_vaes

Prints two markdown tables: per objective, the median and [min, max] of each metric over
all of its members (every grid value and seed: the distribution Locatello et al. 2019 draw
as box plots), and per (objective, grid value), the mean +- std over seeds.
"""
from __future__ import annotations

import argparse
import csv
import os

import numpy as np

# The key each objective's grid varies (sweep.py's GRIDS), shown in the per-setting table.
GRID_KEY = {"beta": "hparams.beta", "annealed": "hparams.capacity_max",
            "factorvae": "hparams.factor_gamma", "dip_i": "hparams.lambda_od",
            "dip_ii": "hparams.lambda_od", "tcvae": "hparams.tc_weight"}
METRICS = {"elbo.rec_nats": "rec (nats)", "elbo.kl_nats": "KL (nats)",
           "disentanglement.mig": "MIG", "disentanglement.factorvae_score": "FactorVAE",
           "disentanglement.betavae_score": "BetaVAE",
           "disentanglement.dci_disentanglement": "DCI dis.", "disentanglement.sap": "SAP"}


def read_done(path: str) -> list[dict]:
  with open(path) as f:
    return [r for r in csv.DictReader(f) if r["status"] == "done"]


def values(rows: list[dict], key: str) -> np.ndarray:
  return np.array([float(r[key]) for r in rows if r.get(key) not in (None, "")])


def distribution_table(rows: list[dict]) -> list[str]:
  lines = ["| objective | members | " + " | ".join(METRICS.values()) + " |",
           "|---|---|" + "---|" * len(METRICS)]
  for objective in GRID_KEY:
    mine = [r for r in rows if r["model.objective"] == objective]
    if not mine:
      continue
    cells = []
    for key in METRICS:
      v = values(mine, key)
      cells.append(f"{np.median(v):.3g} [{v.min():.3g}, {v.max():.3g}]" if len(v) else "")
    lines.append(f"| {objective} | {len(mine)} | " + " | ".join(cells) + " |")
  return lines


def setting_table(rows: list[dict]) -> list[str]:
  lines = ["| objective | setting | seeds | " + " | ".join(METRICS.values()) + " |",
           "|---|---|---|" + "---|" * len(METRICS)]
  for objective, grid_key in GRID_KEY.items():
    mine = [r for r in rows if r["model.objective"] == objective]
    for setting in sorted({float(r[grid_key]) for r in mine}):
      group = [r for r in mine if float(r[grid_key]) == setting]
      cells = []
      for key in METRICS:
        v = values(group, key)
        cells.append(f"{v.mean():.3g} ± {v.std():.2g}" if len(v) > 1 else
                     (f"{v[0]:.3g}" if len(v) else ""))
      name = grid_key.split(".")[-1]
      lines.append(f"| {objective} | {name} {setting:g} | {len(group)} | " + " | ".join(cells)
                   + " |")
  return lines


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--sweep", default="runs/disentangling_vaes")
  args = parser.parse_args()
  rows = read_done(os.path.join(args.sweep, "sweep.csv"))
  print("\n".join(distribution_table(rows) + [""] + setting_table(rows)))


if __name__ == "__main__":
  main()
