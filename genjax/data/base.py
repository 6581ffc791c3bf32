"""The contract every genjax dataset meets: a finite random-access source of dict records.

A source hands out whole batches (`get_batch(indices)`), so a renderer or an in-memory
array answers 64 indices with one vectorised numpy call instead of 64 Python calls; the
grain pipeline (`pipeline.py`) shuffles, repeats and shards the *indices* and then asks the
source for each batch. Every record holds at least `x`: the model input, float32
(images: [H, W, C] in [0, 1]; points: [D]). Optional keys: `label` (int32 class),
`factors` (int32 ground-truth factor indices) and `factor_values` (float32 factor values).
"""
from __future__ import annotations

import dataclasses
from typing import Protocol, runtime_checkable

import numpy as np

from genjax.core.dataset import DatasetInfo


class Source(Protocol):
  """A finite dataset split that returns whole batches of records."""

  info: DatasetInfo

  def __len__(self) -> int:
    ...

  def get_batch(self, indices_N: np.ndarray) -> dict[str, np.ndarray]:
    """Returns the records at `indices_N` stacked on a leading axis of size N."""
    ...


@runtime_checkable
class FactorSource(Protocol):
  """A source whose dataset is a full grid of ground-truth factors (dSprites, 3D Shapes, ...).

  Metrics that fix one factor and vary the others (disentanglement, traversals labelled by
  factor) draw factor indices themselves and ask for the matching images here, over the
  *whole* grid whatever the split holds, as disentanglement_lib samples its datasets.
  """

  info: DatasetInfo

  def get_by_factors(self, factors_NK: np.ndarray) -> dict[str, np.ndarray]:
    """The records of the grid cells `factors_NK` (int indices, column k in
    [0, info.factor_sizes[k])), stacked on a leading axis of size N."""
    ...


@dataclasses.dataclass(frozen=True)
class ArraySource:
  """A source whose records are all held in memory as numpy arrays (digits, toy2d, tests)."""

  info: DatasetInfo
  arrays: dict[str, np.ndarray]

  def __len__(self) -> int:
    return len(next(iter(self.arrays.values())))

  def get_batch(self, indices_N: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[indices_N] for k, v in self.arrays.items()}
