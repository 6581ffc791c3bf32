"""MPI3D (toy, realistic, real) read from the .npz its authors distribute, a batch at a time.

`mpi3d_{toy,realistic,real}.npz` (Gondal et al. 2019) holds `images` [1036800, 64, 64, 3]
uint8 in C order of the grid: object colour 6, object shape 6, object size 2, camera height
3, background colour 3, horizontal axis 40, vertical axis 40. The file carries no labels,
so the factor sizes are the authors' (`data.factor_sizes` declares another grid, e.g. a
subset saved in the same format). 12.7 GB of pixels never enter memory: an `images` member
stored uncompressed (np.savez) is read in place by offset; a compressed one
(np.savez_compressed) can only be streamed, so it is extracted once to an uncompressed cache
file under data.cache_dir (with a progress line) and read from there.
"""
from __future__ import annotations

import numpy as np

from genjax import config as gconfig
from genjax.data import grid, npz, records
from genjax.errors import DataError

NAME = "mpi3d"
EXPECTED = "an MPI3D .npz (mpi3d_toy.npz, mpi3d_realistic.npz or mpi3d_real.npz)"
FACTOR_NAMES = ("object_color", "object_shape", "object_size", "camera_height",
                "background_color", "horizontal_axis", "vertical_axis")
FACTOR_SIZES = (6, 6, 2, 3, 3, 40, 40)
CATEGORICAL = ("object_color", "object_shape", "background_color")
_CHUNK_BYTES = 64 << 20


def load(data_cfg, split: str) -> grid.GridSource:
  """The `split` of the MPI3D file at data.path.

  Args:
    data_cfg: the config's `data` section (uses path, cache_dir, factor_sizes, num_train,
      num_test).
    split: 'train' or 'test' (a fixed permutation's first data.num_test images, 10,000 by
      default, are the test set).

  Returns:
    A GridSource (FactorSource) of x [64, 64, 3] float32 in [0, 1], factors (indices) and
    factor_values (the indices as floats: the file gives no physical values).
  """
  path = records.data_path(data_cfg, NAME, EXPECTED)
  what = f"MPI3D file '{path}'"
  sizes = tuple(gconfig.optional({"data": data_cfg}, "data.factor_sizes")) or FACTOR_SIZES
  if len(sizes) != len(FACTOR_NAMES):
    raise DataError(f"data.factor_sizes={sizes} must give {len(FACTOR_NAMES)} sizes "
                    f"({', '.join(FACTOR_NAMES)})")
  full = grid.FactorGrid(FACTOR_NAMES, tuple(np.arange(s, dtype=np.float32) for s in sizes))
  with npz.open_npz(path, EXPECTED) as zf:
    shape, dtype = npz.header(zf, "images", what)
    if len(shape) != 4 or dtype != np.uint8 or shape[-1] not in (1, 3):
      raise DataError(f"{what}: images has shape {shape} and dtype {dtype}; MPI3D images are "
                      "[N, 64, 64, 3] uint8")
    if shape[0] != full.num_cells:
      raise DataError(f"{what}: {shape[0]} images do not match the factor sizes "
                      f"{dict(zip(FACTOR_NAMES, sizes))} ({full.num_cells} images); use "
                      "the complete file, or set data.factor_sizes to the grid it holds")
    stored = npz.stored_records(zf, path, "images", what)
    if stored is None:
      rows = max(1, _CHUNK_BYTES // int(np.prod(shape[1:])))
      stored = records.cached_records(
          records.cache_dir(data_cfg), f"mpi3d-images-{records.file_key(path)}",
          tuple(shape[1:]), np.uint8, shape[0], npz.chunks(zf, "images", rows, what),
          f"images of {what}")

  def read_sorted(flat_N: np.ndarray) -> np.ndarray:
    return stored.read_sorted(flat_N).astype(np.float32) * np.float32(1 / 255)

  return grid.make_source(NAME, grid.without_constant_factors(full), shape[1:], grid.sorted_reader(read_sorted),
                          data_cfg, split, categorical=CATEGORICAL)
