"""The compression study's figure and tables, from the four sweeps' sweep.csv files.

  python experiments/latent_size/plot.py --root=runs/latent_size \
      --out=experiments/latent_size/latent_size.png

Reads <root>/{ae,vae}_<dataset>/sweep.csv (written by `genjax report --sweep`) for each
dataset of --datasets (default digits,sprites32; any factor dataset works, e.g. a dsprites
study in <root>/{ae,vae}_dsprites) and draws one figure: per dataset (rows) reconstruction
error against latent size for both models, the VAE's rate (KL) and distortion
(reconstruction NLL) against latent size, and what a linear probe reads from the codes
(class accuracy on labelled data; R^2 per ground-truth factor on factor data, the factors
named by the sweep's features.probe_r2_<factor> columns). Prints the markdown tables of the
README, including the VAE's active units and, for factor data, k-nearest-neighbour probes
on the saved held-out codes (evals/features.npz, which names the dataset and its
categorical factors), since a linear R^2 on a category's index undersells it.
"""
from __future__ import annotations

import argparse
import csv
import os

import numpy as np

MODELS = ("ae", "vae")
DATASETS = ("digits", "sprites32")
# Factors whose value is not a function of the image: a square repeats every 90 degrees and
# an ellipse every 180, so a neighbour probe of orientation measures nothing.
NOT_FROM_IMAGE = {"sprites": ("orientation",), "dsprites": ("orientation",)}
THRESHOLD = 0.9  # a factor counts as recovered when its held-out linear-probe R^2 reaches this
STYLE = {"ae": dict(color="C0", marker="o", label="autoencoder"),
         "vae": dict(color="C3", marker="s", label="VAE (beta 1)")}


def read_sweep(path: str) -> dict[int, list[dict]]:
  """{latent_dim: [row per finished seed]}, values as floats where they parse."""
  out: dict[int, list[dict]] = {}
  if not os.path.isfile(path):
    return out
  with open(path) as f:
    for row in csv.DictReader(f):
      if row["status"] != "done":
        continue
      parsed = {}
      for k, v in row.items():
        try:
          parsed[k] = float(v)
        except (TypeError, ValueError):
          parsed[k] = v
      out.setdefault(int(parsed["model.latent_dim"]), []).append(parsed)
  return out


def stats(rows_by_d: dict[int, list[dict]], key: str):
  """Latent sizes, means and standard deviations over seeds of `key`."""
  ds = [d for d in sorted(rows_by_d) if all(isinstance(r.get(key), float) for r in rows_by_d[d])]
  values = [[r[key] for r in rows_by_d[d]] for d in ds]
  return np.array(ds), np.array([np.mean(v) for v in values]), np.array([np.std(v) for v in values])


def factors_of(sweep: dict[int, list[dict]]) -> tuple[str, ...]:
  """The factor names of a study's probe columns (features.probe_r2_<factor>), in order."""
  prefix = "features.probe_r2_"
  rows = [r for rs in sweep.values() for r in rs]
  return tuple(k[len(prefix):] for k in (rows[0] if rows else {}) if k.startswith(prefix))


def labelled(sweep: dict[int, list[dict]]) -> bool:
  return any("features.probe_accuracy" in r for rs in sweep.values() for r in rs)


def knn_probe(workdir: str) -> dict[str, float] | None:
  """5-fold cross-validated 10-nearest-neighbour probes on the saved held-out codes.

  Categorical factors: classification accuracy (chance 1 / their number of values); the
  others: R^2 of a 10-NN regression; NOT_FROM_IMAGE factors are left out. None without
  features.npz.
  """
  path = os.path.join(workdir, "evals", "features.npz")
  if not os.path.isfile(path):
    return None
  from sklearn import model_selection, neighbors, pipeline, preprocessing  # pylint: disable=g-import-not-at-top
  data = np.load(path)
  # features.npz written before it named its factors came from sprites.
  dataset = str(data["dataset"]) if "dataset" in data else "sprites"
  names = (tuple(data["factor_names"]) if "factor_names" in data
           else ("shape", "scale", "orientation", "pos_x", "pos_y"))
  categorical = tuple(data["categorical_factors"]) if "categorical_factors" in data else ("shape",)
  folds = model_selection.KFold(5, shuffle=True, random_state=0)
  out = {}
  for k, factor in enumerate(names):
    if factor in NOT_FROM_IMAGE.get(dataset, ()):
      continue
    if factor in categorical:
      model, target, scoring = neighbors.KNeighborsClassifier(10), data["factors"][:, k], "accuracy"
    else:
      model, target, scoring = neighbors.KNeighborsRegressor(10), data["factor_values"][:, k], "r2"
    probe = pipeline.make_pipeline(preprocessing.StandardScaler(), model)
    out[factor] = float(np.mean(model_selection.cross_val_score(
        probe, data["features"], target, cv=folds, scoring=scoring)))
  return out


def active_units(workdir: str, threshold: float = 0.01) -> int | None:
  """Latents whose posterior mean varies over held-out data: Cov_x(E_q[z_d]) > 0.01
  (Burda et al. 2016), from evals/features.npz; None without the file."""
  path = os.path.join(workdir, "evals", "features.npz")
  if not os.path.isfile(path):
    return None
  return int(np.sum(np.load(path)["features"].var(0) > threshold))


def draw(sweeps: dict, datasets: tuple[str, ...], out: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(len(datasets), 3, figsize=(13, 3.6 * len(datasets)), squeeze=False)
  for row, dataset in enumerate(datasets):
    ax_mse, ax_rd, ax_probe = axes[row]
    if not (sweeps["ae", dataset] and sweeps["vae", dataset]):
      for ax in axes[row]:
        ax.axis("off")
      continue
    for model in MODELS:
      rows = sweeps[model, dataset]
      d, m, s = stats(rows, "recon.mse_per_dim")
      ax_mse.errorbar(d, m, yerr=s, capsize=3, **STYLE[model])
    ax_mse.set_yscale("log")
    ax_mse.set_title(f"{dataset}: held-out reconstruction MSE / pixel", fontsize=10)
    ax_mse.legend(fontsize=8)

    vae = sweeps["vae", dataset]
    d, rate, rate_s = stats(vae, "elbo.kl_nats")
    _, dist, dist_s = stats(vae, "elbo.rec_nats")
    ax_rd.errorbar(d, dist, yerr=dist_s, capsize=3, color="C3", marker="s",
                   label="VAE distortion D (rec NLL)")
    ax_rd.errorbar(d, rate, yerr=rate_s, capsize=3, color="C2", marker="^",
                   label="VAE rate R (KL)")
    d_ae, rec_ae, rec_ae_s = stats(sweeps["ae", dataset], "recon.rec_nats")
    ax_rd.errorbar(d_ae, rec_ae, yerr=rec_ae_s, capsize=3, color="C0", marker="o",
                   linestyle="--", label="AE distortion (rec NLL)")
    ax_rd.set_yscale("log")
    ax_rd.set_title(f"{dataset}: rate and distortion (nats / image)", fontsize=10)
    ax_rd.legend(fontsize=8)

    if labelled(sweeps["ae", dataset]):
      for model in MODELS:
        d, m, s = stats(sweeps[model, dataset], "features.probe_accuracy")
        ax_probe.errorbar(d, m, yerr=s, capsize=3, **STYLE[model])
      _, pix, _ = stats(sweeps["ae", dataset], "features.pixel_accuracy")
      if len(pix):
        ax_probe.axhline(pix.mean(), color="grey", linestyle=":", label="probe on pixels")
      ax_probe.set_title(f"{dataset}: linear-probe class accuracy", fontsize=10)
      ax_probe.legend(fontsize=8)
    else:
      for k, factor in enumerate(factors_of(sweeps["ae", dataset])):
        for model, line in (("ae", "-"), ("vae", "--")):
          d, m, _ = stats(sweeps[model, dataset], f"features.probe_r2_{factor}")
          ax_probe.plot(d, m, linestyle=line, marker=".", color=f"C{k}",
                        label=factor if model == "ae" else None)
      ax_probe.axhline(THRESHOLD, color="grey", linestyle=":")
      ax_probe.set_ylim(-0.1, 1.02)
      ax_probe.set_title(f"{dataset}: linear-probe R^2 per factor (AE -, VAE --)", fontsize=10)
      ax_probe.legend(fontsize=7, ncol=2)
    for ax in (ax_mse, ax_rd, ax_probe):
      ax.set_xscale("log", base=2)
      ax.set_xticks([1, 2, 4, 8, 16, 32], ["1", "2", "4", "8", "16", "32"])
      ax.set_xlabel("latent size")
      ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(out, dpi=80)
  plt.close(fig)


def _cell(rows, key, fmt="{:.4g}"):
  values = [r[key] for r in rows if isinstance(r.get(key), float)]
  if not values:
    return ""
  text = fmt.format(np.mean(values))
  return text + (f" ± {np.std(values):.2g}" if len(values) > 1 else "")


def tables(sweeps: dict, root: str, datasets: tuple[str, ...]) -> list[str]:
  lines = []
  for dataset in datasets:
    ae, vae = sweeps["ae", dataset], sweeps["vae", dataset]
    if not (ae or vae):
      continue
    has_labels, factors = labelled(ae) or labelled(vae), factors_of(ae) or factors_of(vae)
    seeds = max(len(v) for v in (*ae.values(), *vae.values()))
    lines += [f"{dataset} ({seeds} seed(s); mean ± std over seeds where more than one):", ""]
    head = ["latent", "AE MSE/pixel", "VAE MSE/pixel", "AE rec (nats)", "VAE D = rec",
            "VAE R = KL", "VAE -ELBO", "VAE active units"]
    if has_labels:
      head += ["AE probe acc", "VAE probe acc"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in sorted(set(ae) | set(vae)):
      a, v = ae.get(d, []), vae.get(d, [])
      cells = [str(d), _cell(a, "recon.mse_per_dim", "{:.4f}"),
               _cell(v, "recon.mse_per_dim", "{:.4f}"), _cell(a, "recon.rec_nats", "{:.1f}"),
               _cell(v, "elbo.rec_nats", "{:.1f}"), _cell(v, "elbo.kl_nats", "{:.2f}"),
               _cell(v, "elbo.nelbo_nats", "{:.1f}")]
      units = [active_units(os.path.join(root, f"vae_{dataset}", r["name"])) for r in v]
      cells.append(", ".join(str(u) for u in units if u is not None))
      if has_labels:
        cells += [_cell(a, "features.probe_accuracy", "{:.3f}"),
                  _cell(v, "features.probe_accuracy", "{:.3f}")]
      lines.append("| " + " | ".join(cells) + " |")
    rows = [r for rs in (*ae.values(), *vae.values()) for r in rs]
    if has_labels:
      pixel = np.mean([r["features.pixel_accuracy"] for r in rows])
      lines += ["", f"Linear probe on raw pixels: accuracy {pixel:.3f}.", ""]
      continue
    lines += ["", f"{dataset}, what the codes reveal of the {len(factors)} factors "
              f"({'/'.join(factors)}): linear-probe R^2 (the features evaluator) and 10-NN "
              "probes (accuracy for categorical factors, else R^2; in the order of the "
              "factors, without those not given by the image):", ""]
    head = ["latent", "AE linear R^2", "VAE linear R^2", "AE 10-NN", "VAE 10-NN"]
    knn: dict[tuple[str, int], dict[str, float]] = {}
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in sorted(set(ae) | set(vae)):
      cells = [str(d)]
      for sweep in (ae, vae):
        rs = sweep.get(d, [])
        cells.append(" / ".join(f"{np.mean([r[f'features.probe_r2_{f}'] for r in rs]):.2f}"
                                for f in factors) if rs else "")
      for model, sweep in (("ae", ae), ("vae", vae)):
        probes = [knn_probe(os.path.join(root, f"{model}_{dataset}", r["name"]))
                  for r in sweep.get(d, [])]
        probes = [p for p in probes if p]
        if probes:
          knn[model, d] = {f: float(np.mean([p[f] for p in probes])) for f in probes[0]}
        cells.append(" / ".join(f"{x:.2f}" for x in knn[model, d].values())
                     if (model, d) in knn else "")
      lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Linear probe on raw pixels, R^2 per factor: " + " / ".join(
        f"{np.mean([r[f'features.pixel_r2_{f}'] for r in rows]):.2f}" for f in factors) + ".",
              "", _recovered(ae, vae, knn, factors), ""]
  return lines


def _recovered(ae, vae, knn, factors) -> str:
  """The smallest latent size at which each factor reaches THRESHOLD, per model and probe."""
  parts = []
  for name, model, sweep in (("AE", "ae", ae), ("VAE", "vae", vae)):
    linear, nonlinear = [], []
    for f in factors:
      hit = [d for d in sorted(sweep)
             if np.mean([r[f"features.probe_r2_{f}"] for r in sweep[d]]) >= THRESHOLD]
      linear.append(f"{f} {hit[0] if hit else 'never'}")
      if any(f in probes for probes in knn.values()):
        hit = [d for d in sorted(sweep) if knn.get((model, d), {}).get(f, -1) >= THRESHOLD]
        nonlinear.append(f"{f} {hit[0] if hit else 'never'}")
    parts.append(f"{name}: linear probe: {', '.join(linear)}; 10-NN probe: {', '.join(nonlinear)}")
  return (f"Smallest latent size at which a factor reaches {THRESHOLD} (R^2; accuracy for "
          "categorical factors under 10-NN): " + ". ".join(parts) + ".")


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--root", default="runs/latent_size")
  parser.add_argument("--out", default="experiments/latent_size/latent_size.png")
  parser.add_argument("--datasets", default=",".join(DATASETS),
                      help="comma-separated study names: <root>/{ae,vae}_<name>/sweep.csv")
  args = parser.parse_args()
  datasets = tuple(d for d in args.datasets.split(",") if d)
  sweeps = {(m, d): read_sweep(os.path.join(args.root, f"{m}_{d}", "sweep.csv"))
            for m in MODELS for d in datasets}
  draw(sweeps, datasets, args.out)
  print("\n".join(tables(sweeps, args.root, datasets)))
  print(f"figure: {args.out} ({os.path.getsize(args.out) // 1024} KB)")


if __name__ == "__main__":
  main()
