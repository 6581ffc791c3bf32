"""Rare digit classes (2 % of their training examples kept), with and without resampling.

  genjax sweep --sweep=experiments/rare_events/sweep.py --workdir=runs/rare_events \
      --launcher=vectorized --population_mode=loop   # each (class, arm): its 3 seeds together
  python experiments/rare_events/report.py --root=runs/rare_events \
      --out=experiments/rare_events/rare_events.png

`loop` steps each member with the one compiled solo step, so every member equals its solo
`genjax train` run bit for bit (`auto` picks vmap or loop by timing, and vmap's float
reassociation would make the numbers depend on that choice).

Arms: the balanced reference (no rare class), and for each rare class the baseline
(uniform sampling), latent-density resampling (per-dimension histograms, Amini et al. 2019)
at two smoothings alpha, and joint kNN-density resampling (`latent_knn`: k = 5 on the
standardised active dimensions, alpha 0 = the inverse density) at two caps on the weights.
"""
CONFIG = "experiments/rare_events/config.py:cpu"
RARE_CLASSES = (0, 4, 8)
ALPHAS = (1.0, 0.1)
KNN_CAPS = (10.0, 100.0)  # data.resample_max_ratio: the largest weight over the median
SEEDS = (0, 1, 2)


def get_sweep():
  members = [{"data.rare_class": -1, "seed": s} for s in SEEDS]
  for c in RARE_CLASSES:
    members += [{"data.rare_class": c, "data.resample": "none", "seed": s} for s in SEEDS]
    members += [{"data.rare_class": c, "data.resample": "latent_density",
                 "data.resample_alpha": a, "seed": s} for a in ALPHAS for s in SEEDS]
    members += [{"data.rare_class": c, "data.resample": "latent_knn", "data.resample_alpha": 0.0,
                 "data.resample_max_ratio": r, "seed": s} for r in KNN_CAPS for s in SEEDS]
  return members
