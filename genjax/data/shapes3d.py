"""3D Shapes read from the 3dshapes.h5 its authors distribute, a batch at a time from disk.

`3dshapes.h5` (Burgess & Kim 2018) holds `images` [480000, 64, 64, 3] uint8 and `labels`
[480000, 6] float64: floor hue, wall hue, object hue (10 values each), scale (8), shape (4)
and orientation (15), in C order of that grid. The factor sizes and values are read from
`labels` (each column's distinct values) and every row is checked against its cell.
Pixels never enter memory whole (5.9 GB): when `images` is stored contiguously and
uncompressed its bytes are read in place by offset (h5py's `get_offset`); a chunked or
compressed layout is extracted once to an uncompressed cache file (records.py) and read
from there.
"""
from __future__ import annotations

import numpy as np

from genjax.data import grid, records
from genjax.errors import DataError

NAME = "shapes3d"
EXPECTED = "the 3D Shapes file (3dshapes.h5)"
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
CATEGORICAL = ("shape",)
_CHUNK_BYTES = 64 << 20


def load(data_cfg, split: str) -> grid.GridSource:
  """The `split` of the 3D Shapes file at data.path.

  Args:
    data_cfg: the config's `data` section (uses path, cache_dir, num_train, num_test).
    split: 'train' or 'test' (a fixed permutation's first data.num_test images, 10,000 by
      default, are the test set).

  Returns:
    A GridSource (FactorSource) of x [64, 64, 3] float32 in [0, 1], factors, factor_values.
  """
  import h5py  # pylint: disable=g-import-not-at-top  # only 3D Shapes runs pay its import

  path = records.data_path(data_cfg, NAME, EXPECTED)
  what = f"3D Shapes file '{path}'"
  try:
    f = h5py.File(path, "r")
  except (OSError, ValueError) as e:
    raise DataError(f"'{path}' is not a readable HDF5 file ({e}): it is truncated or in "
                    f"another format; data.path must be {EXPECTED}") from None
  with f:
    for key in ("images", "labels"):
      if key not in f or not isinstance(f[key], h5py.Dataset):
        raise DataError(f"{what} has no dataset '{key}' (it has {', '.join(f.keys()) or 'none'})"
                        f"; data.path must be {EXPECTED}")
    images = f["images"]
    if images.ndim != 4 or images.dtype != np.uint8 or images.shape[-1] not in (1, 3):
      raise DataError(f"{what}: images has shape {images.shape} and dtype {images.dtype}; "
                      "3D Shapes images are [N, 64, 64, 3] uint8")
    try:
      labels = f["labels"][()]
    except OSError as e:
      raise DataError(f"{what}: labels cannot be read ({e}); the file is damaged") from None
    if len(labels) != images.shape[0]:
      raise DataError(f"{what}: {images.shape[0]} images but {len(labels)} label rows")
    factor_grid = grid.grid_from_labels(FACTOR_NAMES, labels, what)
    stored = _image_records(path, images, data_cfg, what)

  def read_sorted(flat_N: np.ndarray) -> np.ndarray:
    return stored.read_sorted(flat_N).astype(np.float32) * np.float32(1 / 255)

  return grid.make_source(NAME, factor_grid, images.shape[1:], grid.sorted_reader(read_sorted),
                          data_cfg, split, categorical=CATEGORICAL)


def _image_records(path: str, images, data_cfg, what: str) -> records.RecordFile:
  """The images as fixed-size records: in place when contiguous, else from the cache."""
  shape, count = tuple(images.shape[1:]), images.shape[0]
  offset = images.id.get_offset() if images.chunks is None and not images.compression else None
  if offset is not None and images.external is None:
    stored = records.RecordFile(path, int(offset), shape, np.dtype(np.uint8), count)
    stored.check_size(what)
    return stored
  per_chunk = max(images.chunks[0] if images.chunks else 1,
                  _CHUNK_BYTES // int(np.prod(shape)))
  if images.chunks:  # whole HDF5 chunks per slice: each is decompressed once
    per_chunk -= per_chunk % images.chunks[0]

  def slices():
    for start in range(0, count, per_chunk):
      try:
        yield images[start:start + per_chunk]
      except OSError as e:
        raise DataError(f"{what}: images cannot be read ({e}); the file is truncated or "
                        "damaged") from None

  return records.cached_records(records.cache_dir(data_cfg),
                                f"shapes3d-images-{records.file_key(path)}", shape, np.uint8,
                                count, slices(), f"images of {what}")
