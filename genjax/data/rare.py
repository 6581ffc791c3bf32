"""Makes one class rare in a training split: `data.rare_class` keeps `data.rare_fraction` of it.

The kept examples are a fixed random subset of that class (a generator seeded by
SUBSET_SEED, not by config.seed), so every seed of a study trains on the same data and
varies only the model; the other examples keep their order. The count kept is
round(fraction * n) of the class's n training examples (fraction 0 drops the class). Test
splits are never touched, so held-out numbers per class stay comparable.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from genjax import config as gconfig
from genjax.data.base import ArraySource, Source
from genjax.errors import DataError

SUBSET_SEED = 0


def kept_indices(labels_N: np.ndarray, rare_class: int, fraction: float) -> np.ndarray:
  """Ascending indices of the examples kept: all others, and round(fraction * n) of the class."""
  of_class = np.flatnonzero(labels_N == rare_class)
  num_kept = int(round(fraction * len(of_class)))
  kept = np.random.default_rng(SUBSET_SEED).permutation(of_class)[:num_kept]
  return np.sort(np.concatenate([np.flatnonzero(labels_N != rare_class), kept]))


def apply(data_cfg, split: str, source: Source) -> Source:
  """`source` with data.rare_class made rare when `split` is 'train'; unchanged otherwise."""
  rare_class = int(gconfig.optional({"data": data_cfg}, "data.rare_class"))
  if split != "train" or rare_class < 0:
    return source
  fraction = float(gconfig.optional({"data": data_cfg}, "data.rare_fraction"))
  if not isinstance(source, ArraySource) or "label" not in source.arrays:
    raise DataError(f"data.rare_class needs an in-memory labelled dataset (e.g. digits); "
                    f"'{source.info.name}' is not one; set data.rare_class=-1")
  if rare_class >= source.info.num_classes:
    raise DataError(f"data.rare_class={rare_class} is not a class of '{source.info.name}' "
                    f"(0..{source.info.num_classes - 1})")
  keep = kept_indices(source.arrays["label"], rare_class, fraction)
  return dataclasses.replace(source, arrays={k: v[keep] for k, v in source.arrays.items()})
