"""The cross-family likelihood table: each cell's evals/*.json -> one markdown table.

  python experiments/likelihood_table/table.py --root=runs/likelihood_table

Reads <root>/<cell>/evals/likelihood.json (and config.json) for the cells of config.py,
prints the table and writes it to <root>/likelihood_table.md. Rows are datasets; every
number is an upper bound on (or, for the exact column, the value of) -log p(x) per held-out
example in nats, +- its standard error where the evaluator reports one, with
bits/dim = nats / (D ln 2) in brackets (D = 2 for ring8, 64 for digits).

Conventions, so that a row compares like with like:
- ring8: continuous densities of the raw points (the VAE's Gaussian decoder, diffusion's
  Gaussian L_0, the mixture's closed form); no dequantisation, so nats can be negative.
- digits: discrete probabilities of the image's pixel counts 0..16 (x = count / 16). Both
  cells model the counts themselves (config.py: model.levels = 16): the VAE with a
  Binomial(16, sigmoid(logits)) decoder, diffusion on the 17-level grid with its
  discretised L_0 on the same 17 bins. A digits cell trained otherwise gets a WARNING.
- baseline: a scikit-learn GaussianMixture fit on the train split (ring8: on the points;
  digits: on the counts plus uniform noise in [0, 1), whose density integrated over each
  unit bin is a distribution on the counts: E_u[-log p(c + u)] bounds its -log P(c)),
  scored on the same held-out examples.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os

import ml_collections
import numpy as np

from genjax import config as gconfig
from genjax import data as gdata
from genjax.data import toy2d

COUNT_LEVELS = 16  # digits pixel counts 0..16, x = count / 16 (genjax/data/digits.py)
DIMS = {"ring8": 2, "digits": 64}
CELLS = {"ring8": ("vae_ring8", "diffusion_ring8"), "digits": ("vae_digits", "diffusion_digits")}
COLUMNS = ("exact", "vae_nelbo", "vae_iwae", "diffusion", "gmm")
DEQUANT_DRAWS = 10  # uniform-noise draws per held-out digit for the baseline's E_u


@dataclasses.dataclass(frozen=True)
class Estimate:
  """Nats per example and its standard error (None where the evaluator gives none)."""
  nats: float
  stderr: float | None = None


def bits_per_dim(nats: float, dims: int) -> float:
  """Nats per example -> bits per dimension."""
  return nats / (dims * math.log(2))


def format_cell(est: Estimate | None, dims: int) -> str:
  """'-4.191 ± 0.027 (-3.023)': nats, standard error, bits/dim; '—' for no estimate."""
  if est is None:
    return "—"
  se = f" ± {est.stderr:.3f}" if est.stderr is not None else ""
  return f"{est.nats:.3f}{se} ({bits_per_dim(est.nats, dims):.3f})"


def read_metrics(root: str, cell: str, name: str) -> dict | None:
  """<root>/<cell>/evals/<name>.json's metrics, or None if that cell has not been evaluated."""
  path = os.path.join(root, cell, "evals", f"{name}.json")
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    return json.load(f)["metrics"]


def _cell_config(root: str, cell: str) -> ml_collections.ConfigDict | None:
  path = os.path.join(root, cell, "config.json")
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    return ml_collections.ConfigDict(json.load(f))


def _splits(data_cfg: ml_collections.ConfigDict, num: int) -> tuple[np.ndarray, np.ndarray]:
  """(train x, the first `num` held-out x), as the evaluators read them."""
  train = gdata.load(data_cfg, "train").arrays["x"]
  test = gdata.load(data_cfg, "test").arrays["x"][:num]
  return train.reshape(len(train), -1), test.reshape(len(test), -1)


def gmm_ring8(data_cfg, num: int, seed: int = 0) -> Estimate:
  """-log p of the held-out points under an 8-component GMM fit on the train split."""
  from sklearn.mixture import GaussianMixture  # pylint: disable=g-import-not-at-top
  train, test = _splits(data_cfg, num)
  gmm = GaussianMixture(8, covariance_type="full", n_init=3, random_state=seed).fit(train)
  nll = -gmm.score_samples(test.astype(np.float64))
  return Estimate(float(nll.mean()), _stderr(nll))


def gmm_digits(data_cfg, num: int, components: int = 10, seed: int = 0) -> Estimate:
  """A bound on -log P(counts) of held-out digits under a GMM on dequantised counts."""
  from sklearn.mixture import GaussianMixture  # pylint: disable=g-import-not-at-top
  train, test = (np.rint(a * COUNT_LEVELS) for a in _splits(data_cfg, num))
  rng = np.random.default_rng(seed)
  gmm = GaussianMixture(components, covariance_type="full", reg_covar=1e-3, n_init=2,
                        random_state=seed).fit(train + rng.uniform(size=train.shape))
  nll_DN = np.stack([-gmm.score_samples(test + rng.uniform(size=test.shape))
                     for _ in range(DEQUANT_DRAWS)])
  nll = nll_DN.mean(0)
  return Estimate(float(nll.mean()), _stderr(nll))


def ring8_row(root: str, baseline: bool) -> tuple[dict, list[str]]:
  """The ring8 estimates by column, and notes on anything that does not line up."""
  vae, diff = (read_metrics(root, c, "likelihood") for c in CELLS["ring8"])
  row, notes = {}, []
  if vae:
    row.update(_vae_estimates(vae))
    row["exact"] = Estimate(vae["exact_nll_nats"])
  if diff:
    row["diffusion"] = Estimate(diff["bound_nats"], diff["bound_stderr_nats"])
    row.setdefault("exact", Estimate(diff["exact_nll_nats"]))
  if vae and diff:
    notes += _mismatch("ring8", vae, diff)
    if abs(vae["exact_nll_nats"] - diff["exact_nll_nats"]) > 1e-9:
      notes.append("ring8: the two cells' exact NLLs differ: not the same held-out points")
  cfg = _cell_config(root, CELLS["ring8"][0]) or _cell_config(root, CELLS["ring8"][1])
  if baseline and cfg is not None and row:
    row["gmm"] = gmm_ring8(cfg.data, _num_examples(vae, diff))
  return row, notes


def digits_row(root: str, baseline: bool) -> tuple[dict, list[str]]:
  """The digits estimates by column (discrete counts 0..16), and notes."""
  vae, diff = (read_metrics(root, c, "likelihood") for c in CELLS["digits"])
  row, notes = {}, []
  if vae:
    row.update(_vae_estimates(vae))
  if diff:
    row["diffusion"] = Estimate(diff["bound_nats"], diff["bound_stderr_nats"])
  for cell in CELLS["digits"]:
    cfg = _cell_config(root, cell)
    if cfg is not None and (levels := gconfig.optional(cfg, "model.levels")) != COUNT_LEVELS:
      notes.append(f"digits: {cell} has model.levels={levels}, not {COUNT_LEVELS}: its bound is "
                   "not on the 17 pixel counts")
  if vae and not vae.get("proper_likelihood", False):
    notes.append("digits: the VAE's decoder is no probability of the counts (proper_likelihood "
                 "false); train it with model.likelihood='binomial'")
  if vae and diff:
    notes += _mismatch("digits", vae, diff)
  cfg = _cell_config(root, CELLS["digits"][0]) or _cell_config(root, CELLS["digits"][1])
  if baseline and cfg is not None and row:
    row["gmm"] = gmm_digits(cfg.data, _num_examples(vae, diff))
  return row, notes


def _vae_estimates(m: dict) -> dict:
  """A likelihood.json's -ELBO and -IWAE (older files lack the -ELBO's standard error)."""
  return {"vae_nelbo": Estimate(m["nelbo_nats"], m.get("nelbo_stderr_nats")),
          "vae_iwae": Estimate(m["iwae_nats"], m["iwae_stderr_nats"])}


def seed_note(root: str) -> str | None:
  """The VAE ring8 IWAE of every seed run present (<cell>_seedN), or None."""
  cell = CELLS["ring8"][0]
  names = sorted(os.listdir(root)) if os.path.isdir(root) else []
  runs = [cell] + [n for n in names if n.startswith(cell + "_seed")]
  found = []
  for name in runs:
    m, cfg = read_metrics(root, name, "likelihood"), _cell_config(root, name)
    if m and cfg is not None:
      found.append((int(cfg.seed), name == cell, m["iwae_nats"]))
  if len(found) < 2:
    return None
  parts = ", ".join(f"seed {seed}{' (the row above)' if main else ''}: {iwae:.2f}"
                    for seed, main, iwae in sorted(found))
  return f"- VAE -IWAE on ring8 by training seed: {parts}."


def render(rows: dict[str, dict], k: int | None, counts: dict[str, int]) -> str:
  """The markdown table; rows maps a dataset to its estimates by column."""
  iwae = f"VAE -IWAE (k = {k})" if k else "VAE -IWAE"
  header = ["dataset (held-out n)", "exact NLL", "VAE -ELBO", iwae, "diffusion bound",
            "GMM baseline"]
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for name, row in rows.items():
    cells = [format_cell(row.get(c), DIMS[name]) for c in COLUMNS]
    lines.append(f"| {name} ({counts.get(name, '?')}) | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def build(root: str, baseline: bool = True) -> str:
  """The whole markdown: the table, what each number is, and any mismatch found."""
  ring8, ring8_notes = ring8_row(root, baseline)
  digits, digits_notes = digits_row(root, baseline)
  vae_ring8 = read_metrics(root, CELLS["ring8"][0], "likelihood") or {}
  counts = {}
  for name in CELLS:
    for cell in CELLS[name]:
      m = read_metrics(root, cell, "likelihood")
      if m:
        counts.setdefault(name, m["num_examples"])
  rows = {"ring8": ring8, "digits": digits}
  table = render(rows, vae_ring8.get("k"), counts)
  text = [
      "Upper bounds on -log p(x) per held-out example, in nats ± standard error "
      "(bits/dim in brackets); lower is better, '—': not available.",
      "",
      table,
      "",
      "- ring8: continuous densities of the 2-D points (no dequantisation; bits/dim over "
      "D = 2 and negative where the density exceeds 1). The exact NLL is the mixture's "
      "closed form on the same points.",
      "- digits: discrete probabilities of the 8x8 pixel counts 0..16 (bits/dim over D = "
      "64; uniform over the 17 levels is 4.087), every cell with model.levels = 16. VAE: a "
      "Binomial(16, sigmoid(logits)) decoder on the counts. Diffusion: images on the 17 "
      "levels, L_0 discretised on the same 17 bins. GMM: 10 components on counts + "
      "U[0, 1) noise, E_u over 10 draws.",
      "- Standard errors are over held-out examples (none where an evaluator gives none).",
  ]
  note = seed_note(root)
  if note:
    text.append(note)
  text += [f"- WARNING {n}" for n in ring8_notes + digits_notes]
  return "\n".join(text) + "\n"


def _mismatch(name: str, a: dict, b: dict) -> list[str]:
  if a["num_examples"] != b["num_examples"]:
    return [f"{name}: the cells scored {a['num_examples']} and {b['num_examples']} examples"]
  return []


def _num_examples(*metrics: dict | None) -> int:
  return min(m["num_examples"] for m in metrics if m)


def _stderr(x_N: np.ndarray) -> float:
  return float(x_N.std(ddof=1) / math.sqrt(len(x_N))) if len(x_N) > 1 else 0.0


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--root", default="runs/likelihood_table",
                      help="folder holding one run directory per cell (config.py's variants)")
  parser.add_argument("--no_baseline", action="store_true", help="skip the GMM column")
  args = parser.parse_args()
  text = build(args.root, baseline=not args.no_baseline)
  print(text, end="")
  with open(os.path.join(args.root, "likelihood_table.md"), "w") as f:
    f.write(text)


if __name__ == "__main__":
  main()
