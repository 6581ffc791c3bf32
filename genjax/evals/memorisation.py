"""The `memorisation` evaluator: are samples closer to the training set than fresh data is?

A model that copies its training data makes samples that sit much nearer to some training
example than a held-out example does. We draw `num_samples` samples (default 1,000) and take
as many held-out examples, and measure each one's distance to its nearest training example
among the first `num_train` (default 10,000; all 1,500 digits; the sprites grid has 727,280
training images, so there the search covers a random subset and distances are upper bounds).
Distances are Euclidean in pixel space, or in the digits classifier's feature space with
cfg.space = 'features' (digits-like data; see `quality.py`).

Reported:
- median_ratio: median sample distance / median held-out distance (about 1 for a model
  that generalises, well below 1 for one that copies);
- data_copying_ct: C_T of Meehan et al. 2020 over `num_cells` (20) k-means cells of the
  training points, using cells holding more than a share `tau` of the samples (default
  20 / num_samples: at least 20 samples, where the normal approximation to U holds);
  C_T << 0 (say below -3) flags copying, C_T near 0 none;
figures/memorisation_distances.png (both distance histograms) and, for images,
figures/nearest_neighbours.png: samples (odd rows) above their nearest training images.
"""
from __future__ import annotations

import os

import jax
import numpy as np

from genjax import data as gdata
from genjax import viz
from genjax.evals import judge, quality, sample_metrics
from genjax.evals.context import EvalContext

_GALLERY = 16


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  num = min(int(cfg.get("num_samples", 1000)), len(ctx.test))
  num_cells = int(cfg.get("num_cells", 20))
  tau = float(cfg.get("tau", 20.0 / num))
  space = judge.feature_space(ctx.config.data.name, cfg)
  embed, accuracy = quality.embedder(ctx, cfg, space, "memorisation")
  train = gdata.load(ctx.config.data, "train")
  train_x = train.get_batch(np.arange(min(int(cfg.get("num_train", 10_000)), len(train))))["x"]
  held_x = ctx.first_examples(num)["x"]
  fake_x = quality.draw_samples(ctx, num, stream=17, evaluator="memorisation")
  train_F, held_F, fake_F = embed(train_x), embed(held_x), embed(fake_x)
  held_dist, _ = sample_metrics.nearest_neighbours(held_F, train_F)
  fake_dist, fake_nn = sample_metrics.nearest_neighbours(fake_F, train_F)
  _, held_cell, fake_cell = sample_metrics.cell_assignments(
      train_F, held_F, fake_F, num_cells=num_cells, seed=int(cfg.get("seed", 0)))
  c_t, cells_used = sample_metrics.data_copying_statistic(
      held_dist, held_cell, fake_dist, fake_cell, num_cells, tau)
  out = {
      "median_ratio": float(np.median(fake_dist) / max(np.median(held_dist), 1e-12)),
      "median_sample_nn_distance": float(np.median(fake_dist)),
      "median_heldout_nn_distance": float(np.median(held_dist)),
      "data_copying_ct": c_t,
      "cells_used": cells_used,
      "num_cells": num_cells,
      "num_samples": int(num),
      "num_train_searched": int(len(train_x)),
      "in_judge_features": space == "features",
  }
  if accuracy is not None:
    out["judge_accuracy"] = float(accuracy)
  if jax.process_index() == 0:
    _histograms(ctx.path("figures", "memorisation_distances.png"), held_dist, fake_dist, space)
    if ctx.info.kind == "image":
      _gallery(ctx.path("figures", "nearest_neighbours.png"), fake_x[:_GALLERY],
               train_x[fake_nn[:_GALLERY]])
  return out


def _gallery(path: str, samples_NHWC: np.ndarray, neighbours_NHWC: np.ndarray) -> str:
  """Rows of (up to) 8 samples, each row followed by the row of their nearest training images."""
  ncol = min(8, len(samples_NHWC))
  rows = []
  for start in range(0, len(samples_NHWC) // ncol * ncol, ncol):
    rows += [samples_NHWC[start:start + ncol], neighbours_NHWC[start:start + ncol]]
  return viz.save_image_grid(path, np.concatenate(rows), ncol=ncol)


def _histograms(path: str, held_dist: np.ndarray, fake_dist: np.ndarray, space: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(path), exist_ok=True)
  bins = np.histogram_bin_edges(np.concatenate([held_dist, fake_dist]), bins=40)
  fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
  ax.hist(held_dist, bins=bins, alpha=0.6, density=True, label="held-out")
  ax.hist(fake_dist, bins=bins, alpha=0.6, density=True, label="samples")
  ax.set_xlabel(f"distance to the nearest training example ({space})")
  ax.set_ylabel("density")
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
