"""The few-label probe: do VAE / autoencoder codes of digits beat raw pixels with 10 labels each?

  python experiments/latent_size/few_labels.py --root=runs/latent_size [--draws=10]

For every finished digits run of the compression study (<root>/{ae,vae}_digits/*), encodes
the 1,500 training and 297 held-out digits once (posterior means for the VAE), then for each
of `draws` seeded draws of 10 labelled training digits per class fits the `features`
evaluator's probe (logistic regression, C = 1, on standardised inputs) on the codes and on
the raw 64 pixels of the same 100 digits, and scores both on the held-out digits.
Prints one markdown row per (model, latent size): probe accuracy mean +- std over seeds (each
seed's value the mean over draws), the pixel probe's accuracy over the same draws, and how
often the codes beat the pixels on the same labelled set.
"""
from __future__ import annotations

import argparse
import glob
import os
import re

import numpy as np

from genjax.evals import features
from genjax.train import session

PER_CLASS = 10


def probe_run(workdir: str, draws: int) -> tuple[np.ndarray, np.ndarray]:
  """Held-out accuracies [draws] of the code probe and the pixel probe of one run."""
  _, ctx = session.load_trained(workdir)
  train = features.gdata.load(ctx.config.data, "train")
  tr = features.encode_records(ctx, train, np.arange(len(train)), chunk=256)
  te = features.encode_records(ctx, ctx.test, np.arange(len(ctx.test)), chunk=256)
  codes, pixels = np.zeros(draws), np.zeros(draws)
  for d in range(draws):
    idx = features.few_labels(tr["label"], PER_CLASS, seed=d)
    codes[d] = features.probe_accuracy(tr["features"][idx], tr["label"][idx], te["features"],
                                       te["label"])
    pixels[d] = features.probe_accuracy(tr["pixels"][idx], tr["label"][idx], te["pixels"],
                                        te["label"])
  return codes, pixels


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--root", default="runs/latent_size")
  parser.add_argument("--draws", type=int, default=10)
  args = parser.parse_args()
  print(f"| model | latent | seeds | code probe acc | pixel probe acc | codes win |")
  print("|---|---|---|---|---|---|")
  for model in ("ae", "vae"):
    by_dim: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for workdir in sorted(glob.glob(os.path.join(args.root, f"{model}_digits", "latent_dim=*"))):
      if not os.path.exists(os.path.join(workdir, "checkpoints")):
        continue
      dim = int(re.search(r"latent_dim=(\d+)", workdir).group(1))
      by_dim.setdefault(dim, []).append(probe_run(workdir, args.draws))
    for dim in sorted(by_dim):
      codes_SD = np.stack([c for c, _ in by_dim[dim]])
      pixels_SD = np.stack([p for _, p in by_dim[dim]])
      per_seed = codes_SD.mean(1)
      print(f"| {model} | {dim} | {len(per_seed)} | {per_seed.mean():.3f} +- {per_seed.std():.3f} "
            f"| {pixels_SD.mean():.3f} +- {pixels_SD[0].std():.3f} "
            f"| {(codes_SD > pixels_SD).mean():.0%} |")


if __name__ == "__main__":
  main()
