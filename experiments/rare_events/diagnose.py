"""Why latent-density resampling misses the rare digits: where the weights go, and an oracle.

  python experiments/rare_events/diagnose.py weights --root=runs/rare_events
  python experiments/rare_events/diagnose.py oracle --rare_class=0 --workdir=runs/rare_oracle0

`weights`: for every baseline member (a rare class, uniform sampling) of the sweep, encodes
its training set with its final encoder and prints the rare class's "lift" (the probability
mass its examples get over their share of the training set; 1 = uniform) under the study's
estimator (per-dimension histograms over all latent dimensions, several alpha), the same
over the active dimensions only (posterior-mean std > 0.2), a joint density on the
active dimensions (k-nearest-neighbour: 1/density ∝ r_k^D), and the estimator built from
it, `data.resample='latent_knn'` (resample.knn_probabilities: active = std above 0.3 of the
largest, standardised, alpha 0, weights capped at 10x and 100x the median).

`oracle`: trains the study's config with the resampling hook's weights replaced by
class-balanced ones (each class 1/10 of the draws; labels are not available to the method):
an upper bound on what any reweighting of the same data can do. A diagnostic only (it
patches genjax.train.resample.Resampler.update in this process), not a genjax feature.
"""
from __future__ import annotations

import argparse
import json
import os

import jax
import numpy as np

from genjax import config as gconfig
from genjax.train import resample

_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.py")


def lifts(workdir: str, alphas=(0.1, 1.0, 10.0), k: int = 5) -> dict[str, float]:
  from sklearn.neighbors import NearestNeighbors  # pylint: disable=g-import-not-at-top
  from genjax.train.session import load_trained  # pylint: disable=g-import-not-at-top
  session, ctx = load_trained(workdir)
  z_ND = resample.encode_all(jax.jit(session.family.encode), ctx.state, session.train,
                             int(session.config.data.eval_batch_size), session.mesh)
  rare_N = session.train.arrays["label"] == int(session.config.data.rare_class)
  lift = lambda p: float(p[rare_N].sum() / rare_N.mean())
  active = z_ND.std(0) > 0.2
  out = {"active_dims": int(active.sum())}
  for a in alphas:
    out[f"hist_all_a{a:g}"] = lift(resample.latent_probabilities(z_ND, 10, a))
    out[f"hist_active_a{a:g}"] = lift(resample.latent_probabilities(z_ND[:, active], 10, a))
  za = z_ND[:, active]
  r_k = NearestNeighbors(n_neighbors=k + 1).fit(za).kneighbors(za)[0][:, -1]
  w = r_k ** za.shape[1]
  out[f"knn{k}_active"] = lift(w / w.sum())
  for cap in (10.0, 100.0):
    out[f"latent_knn_cap{cap:g}"] = lift(resample.knn_probabilities(z_ND, k, 0.0, 0.3, cap))
  return out


def weights(root: str) -> None:
  with open(os.path.join(root, "sweep.json")) as f:
    members = json.load(f)["members"]
  for m in members:
    o = m["overrides"]
    if o.get("data.rare_class", -1) >= 0 and o.get("data.resample") == "none":
      numbers = lifts(os.path.join(root, m["name"]))
      print(m["name"], " ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                                for k, v in numbers.items()), flush=True)


def oracle(rare_class: int, workdir: str, seed: int) -> None:
  from genjax.train import runner  # pylint: disable=g-import-not-at-top

  def class_balanced(self, state, step, batches):
    del state
    labels = self.source.arrays["label"]
    p = 1.0 / np.bincount(labels)[labels]
    p /= p.sum()
    batches.draw_with(p, step // self.every)
    return resample.weight_stats(p)

  resample.Resampler.update = class_balanced
  config = gconfig.load_config(_CONFIG, {"data.rare_class": rare_class, "seed": seed,
                                         "data.resample": "latent_density",
                                         "data.resample_every": 100})
  runner.train_and_evaluate(config, workdir)
  with open(os.path.join(workdir, "evals", "per_class.json")) as f:
    m = json.load(f)["metrics"]
  print({k: round(m[k], 4) for k in ("rare_mse_per_dim", "common_mse_per_dim", "gap_mse_per_dim",
                                     "gap_nelbo_nats", "rare_auroc")})


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("command", choices=("weights", "oracle"))
  parser.add_argument("--root", default="runs/rare_events")
  parser.add_argument("--rare_class", type=int, default=8)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--workdir", default="runs/rare_oracle")
  args = parser.parse_args()
  if args.command == "weights":
    weights(args.root)
  else:
    oracle(args.rare_class, args.workdir, args.seed)


if __name__ == "__main__":
  main()
