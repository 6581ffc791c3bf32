"""Time of the disentanglement evaluator's metric part at a protocol's sizes, per metric, on CPU.

  python benchmarks/disentanglement_eval.py                         # full protocol, every metric
  python benchmarks/disentanglement_eval.py --metrics mig_modularity,sap --repeats 5 --n_jobs 1
  python benchmarks/disentanglement_eval.py --metrics= --dci_factors 0,2   # DCI per factor

Synthetic codes stand in for an encoder (whose cost depends on the model, not on the
metrics): 10 latents over dSprites' factor sizes (3, 6, 40, 32, 32), five of them a factor's
standardised index plus noise of std 0.1, five near-collapsed (std 0.02, pruned by the
FactorVAE score). Each metric runs on the sizes genjax.evals.disentanglement feeds it (the
random samples, 64-pair BetaVAE points, 64-code FactorVAE batches) and prints one JSON line:
median wall and CPU (process) seconds over --repeats (DCI, minutes per run, over
--dci_repeats), the load average before it, n_jobs and the scikit-learn version. On a shared
machine the CPU seconds are the steadier figure.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from genjax.evals import disentanglement_metrics as dm  # noqa: E402

DSPRITES_SIZES = (3, 6, 40, 32, 32)
METRICS = ("mig_modularity", "explicitness", "dci", "sap", "unsupervised", "betavae",
           "factorvae")


def encode(f_NK: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Codes [N, 10]: each factor's standardised index + N(0, 0.1^2), then 5 collapsed dims."""
  sizes = np.asarray(DSPRITES_SIZES, np.float64)
  informative = (f_NK - (sizes - 1) / 2) / np.sqrt((sizes**2 - 1) / 12)
  informative = informative + 0.1 * rng.standard_normal(informative.shape)
  return np.concatenate([informative, 0.02 * rng.standard_normal(informative.shape)], -1)


def jobs(p: dict, rng: np.random.Generator, seed: int, n_jobs: int) -> dict:
  """metric -> a zero-argument callable running it on freshly drawn codes."""
  nt, ne = p["num_train"], p["num_eval"]
  f_NK = dm.sample_factors(rng, DSPRITES_SIZES, nt + ne)
  z_ND = encode(f_NK, rng)
  zt, ft, ze, fe = z_ND[:nt], f_NK[:nt], z_ND[nt:], f_NK[nt:]

  bt, be, bb = p["betavae_num_train"], p["betavae_num_eval"], p["betavae_batch_size"]
  f1, f2, k_P = dm.fixed_factor_pairs(rng, DSPRITES_SIZES, bt + be, bb)
  z1, z2 = encode(f1, rng), encode(f2, rng)
  vt, ve, vb = p["factorvae_num_train"], p["factorvae_num_eval"], p["factorvae_batch_size"]
  f_VBK, k_V = dm.fixed_factor_batches(rng, DSPRITES_SIZES, vt + ve, vb)
  z_VBD = encode(f_VBK, rng)
  variances = dm.global_variances(z_ND[:p["factorvae_num_variance"]])

  def mig_modularity():
    mi = dm.mutual_info_matrix(dm.discretize(zt, p["num_bins"]), ft)
    return {**dm.mig_from_mutual_info(mi, ft), "modularity": dm.modularity(mi)}

  return {
      "mig_modularity": mig_modularity,
      "explicitness": lambda: dm.explicitness(zt, ft, ze, fe, n_jobs),
      "dci": lambda: dm.dci(zt, ft, ze, fe, seed, n_jobs),
      "sap": lambda: dm.sap(zt, ft, ze, fe, seed, n_jobs),
      "unsupervised": lambda: dm.unsupervised_scores(zt, p["num_bins"]),
      "betavae": lambda: dm.betavae_score(z1, z2, k_P, bt, seed),
      "factorvae": lambda: dm.factorvae_score(z_VBD, k_V, variances, vt, len(DSPRITES_SIZES)),
  }


def time_dci_factors(p: dict, args) -> None:
  """One line per factor: wall / CPU seconds of its gradient-boosted fit at the protocol."""
  rng = np.random.default_rng(args.seed)
  nt, ne = p["num_train"], p["num_eval"]
  f_NK = dm.sample_factors(rng, DSPRITES_SIZES, nt + ne)
  z_ND = encode(f_NK, rng)
  for k in (int(x) for x in args.dci_factors.split(",")):
    load = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    dm.gbt_importance(z_ND[:nt], f_NK[:nt, k:k + 1], z_ND[nt:], f_NK[nt:, k:k + 1], args.seed)
    print(json.dumps({
        "metric": "dci_factor", "factor": k, "values": DSPRITES_SIZES[k],
        "protocol": args.protocol, "seconds": round(time.perf_counter() - start, 3),
        "cpu_seconds": round(time.process_time() - cpu_start, 3),
        "load_avg_1min": round(load, 2), "cpus": os.cpu_count(),
        "sklearn": dm.sklearn_version()}), flush=True)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--protocol", default="full", choices=sorted(dm.PROTOCOLS))
  parser.add_argument("--metrics", default=",".join(METRICS))
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--dci_repeats", type=int, default=1)
  parser.add_argument("--n_jobs", type=int, default=-1)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--dci_factors", default="",
                      help="e.g. 0,2: time DCI's boosted fit of these factors alone, one line "
                           "each (its cost grows with the factor's number of values)")
  args = parser.parse_args()
  names = [m for m in args.metrics.split(",") if m]
  unknown = sorted(set(names) - set(METRICS))
  if unknown:
    print(f"genjax: error: unknown metrics {unknown}; choose from {', '.join(METRICS)}",
          file=sys.stderr)
    sys.exit(2)
  run = jobs(dm.PROTOCOLS[args.protocol], np.random.default_rng(args.seed), args.seed,
             args.n_jobs)
  if args.dci_factors:
    time_dci_factors(dm.PROTOCOLS[args.protocol], args)
  for name in names:
    load = os.getloadavg()[0]
    times, cpu_times, result = [], [], None
    for _ in range(args.dci_repeats if name == "dci" else args.repeats):
      start, cpu_start = time.perf_counter(), time.process_time()
      result = run[name]()
      times.append(time.perf_counter() - start)
      cpu_times.append(time.process_time() - cpu_start)
    print(json.dumps({
        "metric": name, "protocol": args.protocol,
        "seconds_median": round(statistics.median(times), 3),
        "seconds": [round(t, 3) for t in times],
        "cpu_seconds_median": round(statistics.median(cpu_times), 3), "n_jobs": args.n_jobs,
        "load_avg_1min": round(load, 2), "cpus": os.cpu_count(),
        "sklearn": dm.sklearn_version(),
        "scores": {k: round(float(v), 4) for k, v in result.items() if not k.startswith("mig_")}}),
          flush=True)


if __name__ == "__main__":
  main()
