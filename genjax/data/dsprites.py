"""dSprites read from the .npz its authors distribute, held as packed bits (377 MB, not 3 GB).

`dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz` (Matthey et al. 2017) holds `imgs`
[737280, 64, 64] uint8 in {0, 1} in C order of the factor grid, `latents_classes` [737280,
6] and `metadata`, a pickled Python-2 dict. Factor names, sizes and values come from the
file: `metadata['latents_names']`, `['latents_sizes']` and `['latents_possible_values']`
(read through a restricted unpickler: nothing but arrays), checked against
`latents_classes` row by row; factors of size 1 (colour) are dropped, as disentanglement_lib
does. The images are streamed out of the zip once per process and kept with 8 pixels a
byte (np.packbits), decoded per batch; the train and test splits share that one copy.
"""
from __future__ import annotations

import functools
import os
import time

import numpy as np

from genjax.data import grid, npz
from genjax.data.records import data_path, progress
from genjax.errors import DataError

NAME = "dsprites"
EXPECTED = "the dSprites .npz (dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz)"
CATEGORICAL = ("shape",)
_CHUNK_IMAGES = 8192  # 32 MB of uint8 pixels at 64x64 per streamed slice
_SLOW_SECONDS = 5.0


def load(data_cfg, split: str) -> grid.GridSource:
  """The `split` of the dSprites file at data.path.

  Args:
    data_cfg: the config's `data` section (uses path, num_train, num_test).
    split: 'train' or 'test' (a fixed permutation's first data.num_test images, 10,000 by
      default, are the test set).

  Returns:
    A GridSource (FactorSource) of x [64, 64, 1] in {0, 1}, factors and factor_values.
  """
  path = data_path(data_cfg, NAME, EXPECTED)
  st = os.stat(path)
  packed, factor_grid, width = _read(os.path.realpath(path), st.st_size, st.st_mtime_ns)

  def read(flat_N: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(packed[np.asarray(flat_N, np.int64)], axis=-1, count=width)
    return bits[..., None].astype(np.float32)

  return grid.make_source(NAME, factor_grid, packed.shape[1:2] + (width, 1), read, data_cfg,
                          split, binary=True, categorical=CATEGORICAL)


@functools.lru_cache(maxsize=2)
def _read(path: str, size: int, mtime_ns: int) -> tuple[np.ndarray, grid.FactorGrid, int]:
  """(packed images [N, H, ceil(W / 8)] uint8, the factor grid, W) of the file, once per
  process (keyed by the file's identity, so a replaced file is read again)."""
  del size, mtime_ns  # part of the cache key only
  what = f"dSprites file '{path}'"
  zf = npz.open_npz(path, EXPECTED)
  with zf:
    factor_grid = _factor_grid(zf, what)
    shape, dtype = npz.header(zf, "imgs", what)
    if len(shape) != 3 or dtype not in (np.uint8, np.bool_):
      raise DataError(f"{what}: imgs has shape {shape} and dtype {dtype}; dSprites images are "
                      "[N, 64, 64] uint8")
    if shape[0] != factor_grid.num_cells:
      raise DataError(f"{what}: {shape[0]} images do not match the factor sizes "
                      f"{dict(zip(factor_grid.names, factor_grid.sizes))} "
                      f"({factor_grid.num_cells} images); the file is incomplete or altered")
    packed = np.empty((shape[0], shape[1], (shape[2] + 7) // 8), np.uint8)
    start = time.monotonic()
    done = 0
    for chunk in npz.chunks(zf, "imgs", _CHUNK_IMAGES, what):
      if chunk.size and chunk.max() > 1:
        raise DataError(f"{what}: imgs holds values above 1; dSprites pixels are 0 or 1")
      packed[done:done + len(chunk)] = np.packbits(chunk, axis=-1)
      done += len(chunk)
    if time.monotonic() - start > _SLOW_SECONDS:
      progress(f"read {done} dSprites images in {time.monotonic() - start:.0f} s "
               f"(kept packed: {packed.nbytes / 1e6:.0f} MB)")
  return packed, factor_grid, shape[2]


def _factor_grid(zf, what: str) -> grid.FactorGrid:
  """Names, sizes and values from the metadata, checked against latents_classes."""
  meta = npz.pickled(zf, "metadata", what)
  if not isinstance(meta, dict) or "latents_sizes" not in meta or "latents_names" not in meta:
    raise DataError(f"{what}: metadata lacks latents_sizes / latents_names; the file is not "
                    "dSprites")
  names = tuple(_text(n) for n in meta["latents_names"])
  sizes = tuple(int(s) for s in np.asarray(meta["latents_sizes"]).reshape(-1))
  if len(names) != len(sizes) or min(sizes, default=0) < 1:
    raise DataError(f"{what}: metadata names {names} and sizes {sizes} disagree")
  possible = {_text(k): np.asarray(v, np.float32).reshape(-1)
              for k, v in dict(meta.get("latents_possible_values", {})).items()}
  values = tuple(possible[n] if n in possible and len(possible[n]) == s
                 else np.arange(s, dtype=np.float32) for n, s in zip(names, sizes))
  full = grid.FactorGrid(names, values)
  classes_shape, _ = npz.header(zf, "latents_classes", what)
  if classes_shape != (full.num_cells, len(sizes)):
    raise DataError(f"{what}: latents_classes has shape {classes_shape}, but the metadata's "
                    f"factor sizes {sizes} need [{full.num_cells}, {len(sizes)}]")
  done = 0
  for chunk in npz.chunks(zf, "latents_classes", 1 << 16, what):
    if not np.array_equal(chunk, full.factors_of(np.arange(done, done + len(chunk)))):
      raise DataError(f"{what}: latents_classes are not in C order of the factor grid "
                      f"{sizes}; the file is not dSprites in its authors' order")
    done += len(chunk)
  return grid.without_constant_factors(full)


def _text(name) -> str:
  return name.decode("latin1") if isinstance(name, bytes) else str(name)
