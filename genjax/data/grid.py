"""Factor grids stored in C order (dSprites, 3D Shapes, MPI3D): indices, splits and the source.

A grid dataset holds one image per combination of its factors, image i at the flat index
whose mixed-radix digits are the factor indices (the first factor slowest, the last
fastest), as the authors of dSprites, 3D Shapes and MPI3D store them. `GridSource` serves a
split of such a grid by position and any cell of the whole grid by its factors
(`FactorSource`), reading images through the dataset's own `read` function, so a reader that
keeps its file packed or on disk never holds more than one batch of decoded images.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from genjax.core.dataset import DatasetInfo
from genjax.errors import DataError

SPLIT_SEED = 0
DEFAULT_NUM_TEST = 10_000


@dataclasses.dataclass(frozen=True)
class FactorGrid:
  """The factors of a C-ordered grid.

  Attributes:
    names: one name per factor.
    values: per factor, its values [size] (float32) in index order.
  """
  names: tuple[str, ...]
  values: tuple[np.ndarray, ...]

  @property
  def sizes(self) -> tuple[int, ...]:
    return tuple(len(v) for v in self.values)

  @property
  def num_cells(self) -> int:
    return int(np.prod(self.sizes, dtype=np.int64))

  @property
  def strides(self) -> np.ndarray:
    """Flat-index step of each factor (the last factor varies fastest)."""
    return np.cumprod((1,) + self.sizes[:0:-1])[::-1].astype(np.int64)

  def factors_of(self, flat_N: np.ndarray) -> np.ndarray:
    """Factor indices [N, K] int32 of flat indices [N]."""
    flat_N = np.asarray(flat_N, np.int64)
    return ((flat_N[:, None] // self.strides) % np.asarray(self.sizes)).astype(np.int32)

  def flat_of(self, factors_NK: np.ndarray) -> np.ndarray:
    """Flat indices [N] int64 of factor indices [N, K], refusing cells outside the grid."""
    factors_NK = np.asarray(factors_NK)
    k = len(self.sizes)
    if factors_NK.ndim != 2 or factors_NK.shape[1] != k:
      raise DataError(f"factor indices must have shape [N, {k}] ({', '.join(self.names)}); "
                      f"got {factors_NK.shape}")
    if not np.issubdtype(factors_NK.dtype, np.integer):
      raise DataError(f"factor indices must be integers; got {factors_NK.dtype}")
    if factors_NK.size and ((factors_NK < 0).any() or (factors_NK >= self.sizes).any()):
      raise DataError(f"factor indices out of range: column k must lie in [0, {self.sizes}[k])")
    return factors_NK.astype(np.int64) @ self.strides

  def values_of(self, factors_NK: np.ndarray) -> np.ndarray:
    """Factor values [N, K] float32 of factor indices [N, K]."""
    return np.stack([v[f] for v, f in zip(self.values, np.asarray(factors_NK).T)],
                    axis=1).astype(np.float32)


def grid_from_labels(names: tuple[str, ...], labels_NK: np.ndarray, what: str) -> FactorGrid:
  """The grid whose C-ordered cells are `labels_NK` (each row a cell's factor values).

  Each factor's values are its column's distinct values in increasing order; the file is
  accepted only when row i holds exactly the values of flat index i. Factors with a single
  value carry no information and are dropped (as disentanglement_lib drops dSprites' colour).

  Args:
    names: a name per column.
    labels_NK: the file's factor values (or class indices), one row per image.
    what: the file, for error messages.

  Returns:
    The grid of the columns with more than one value.
  """
  labels_NK = np.asarray(labels_NK)
  if labels_NK.ndim != 2 or labels_NK.shape[1] != len(names):
    raise DataError(f"{what}: factor labels have shape {labels_NK.shape}; expected [N, "
                    f"{len(names)}] ({', '.join(names)})")
  uniques = [np.unique(labels_NK[:, k]) for k in range(len(names))]
  full = FactorGrid(tuple(names), tuple(u.astype(np.float32) for u in uniques))
  if full.num_cells != len(labels_NK):
    raise DataError(f"{what}: {len(labels_NK)} images do not form the grid of their factor "
                    f"sizes {dict(zip(names, full.sizes))} ({full.num_cells} cells); the file "
                    "is incomplete or not this dataset")
  for start in range(0, len(labels_NK), 1 << 16):  # chunked: no [N, K] temporaries
    rows = labels_NK[start:start + (1 << 16)]
    factors = full.factors_of(np.arange(start, start + len(rows)))
    expected = np.stack([u[f] for u, f in zip(uniques, factors.T)], axis=1)
    if not np.array_equal(rows, expected):
      raise DataError(f"{what}: the images are not in C order of the factor grid {full.sizes} "
                      "(row i must hold the factor values of flat index i); the file is not "
                      "this dataset in its authors' order")
  return without_constant_factors(full)


def without_constant_factors(factor_grid: FactorGrid) -> FactorGrid:
  """The grid without its factors of one value (flat indices are unchanged by them)."""
  keep = [k for k, s in enumerate(factor_grid.sizes) if s > 1]
  return FactorGrid(tuple(factor_grid.names[k] for k in keep),
                    tuple(factor_grid.values[k] for k in keep))


def split_indices(num_cells: int, split: str, num_train: int = 0, num_test: int = 0) -> np.ndarray:
  """Flat indices of a split: a fixed permutation's first `num_test` are the test set.

  Args:
    num_cells: images in the grid.
    split: 'train' or 'test'.
    num_train: > 0 keeps only the first `num_train` training images.
    num_test: test-set size; 0 means 10,000, or a tenth of a grid smaller than 100,000.

  Returns:
    int64 flat indices in the permutation's (random, fixed) order.
  """
  num_test = num_test or min(DEFAULT_NUM_TEST, max(1, num_cells // 10))
  if num_test >= num_cells:
    raise DataError(f"data.num_test={num_test} leaves none of the {num_cells} images for "
                    "training; lower data.num_test")
  perm = np.random.default_rng(SPLIT_SEED).permutation(num_cells)
  if split == "test":
    return perm[:num_test]
  if split == "train":
    train = perm[num_test:]
    if num_train > len(train):
      raise DataError(f"data.num_train={num_train} exceeds the {len(train)} training images; "
                      "lower data.num_train (0 = all)")
    return train[:num_train] if num_train > 0 else train
  raise DataError(f"unknown split '{split}'; use 'train' or 'test'")


@dataclasses.dataclass(frozen=True)
class GridSource:
  """A split of a stored factor grid: position i of the split is flat index `flat[i]`.

  Attributes:
    info: the dataset's description (factor names and sizes included).
    grid: the factors.
    read: flat indices [N] (any order) -> x [N, H, W, C] float32 in [0, 1], in that order.
    flat: the split's flat indices.
  """
  info: DatasetInfo
  grid: FactorGrid
  read: Callable[[np.ndarray], np.ndarray]
  flat: np.ndarray

  def __len__(self) -> int:
    return len(self.flat)

  def get_batch(self, indices_N: np.ndarray) -> dict[str, np.ndarray]:
    return self._records(self.flat[np.asarray(indices_N)])

  def get_by_factors(self, factors_NK: np.ndarray) -> dict[str, np.ndarray]:
    """Any cell of the whole grid (FactorSource), whatever the split holds."""
    return self._records(self.grid.flat_of(factors_NK))

  def _records(self, flat_N: np.ndarray) -> dict[str, np.ndarray]:
    factors = self.grid.factors_of(flat_N)
    return {"x": self.read(flat_N), "factors": factors,
            "factor_values": self.grid.values_of(factors)}


def make_source(name: str, grid: FactorGrid, x_shape: tuple[int, ...], read, data_cfg,
                split: str, binary: bool = False,
                categorical: tuple[str, ...] = ()) -> GridSource:
  """The `split` of a grid dataset, sized by data.num_train / data.num_test."""
  info = DatasetInfo(name=name, x_shape=tuple(int(d) for d in x_shape), kind="image",
                     binary=binary, factor_names=grid.names, factor_sizes=grid.sizes,
                     categorical_factors=tuple(c for c in categorical if c in grid.names),
                     levels=0 if binary else 255)
  flat = split_indices(grid.num_cells, split, int(data_cfg.num_train), int(data_cfg.num_test))
  return GridSource(info=info, grid=grid, read=read, flat=flat)


def sorted_reader(read_sorted: Callable[[np.ndarray], np.ndarray]):
  """Wraps a reader of increasing, distinct indices into one for any indices (files are
  read front to back, each record once, then put back in the requested order)."""
  def read(flat_N: np.ndarray) -> np.ndarray:
    unique, inverse = np.unique(np.asarray(flat_N, np.int64), return_inverse=True)
    return read_sorted(unique)[inverse]
  return read
