"""Writes files in the exact formats of dSprites, 3D Shapes and MPI3D, for tests and benchmarks.

Each writer streams its images (a function of the flat grid index, `image_fn`), so a
full-size file (3 to 13 GB) is written with one chunk in memory. The layouts follow the
authors' files: dSprites an np.savez_compressed-style zip with `imgs`, `latents_classes`,
`latents_values` and a `metadata` dict pickled as Python 2 pickles it (protocol 2, numpy's
`numpy.core.multiarray` names); 3D Shapes an HDF5 file with `images` and float64 `labels`
(contiguous, or chunked and gzip-compressed); MPI3D a zip holding `images`, stored or
deflated. A reduced grid keeps every format detail but the sizes.
"""
from __future__ import annotations

import io
import pickle
import struct
from typing import Callable
import zipfile

import numpy as np

DSPRITES_NAMES = ("color", "shape", "scale", "orientation", "posX", "posY")
_CHUNK = 4096


def grid_factors(sizes: tuple[int, ...], start: int, stop: int) -> np.ndarray:
  """Factor indices [stop - start, K] of flat indices start..stop-1 of a C-ordered grid."""
  strides = np.cumprod((1,) + tuple(sizes)[:0:-1])[::-1]
  flat = np.arange(start, stop, dtype=np.int64)
  return (flat[:, None] // strides) % np.asarray(sizes)


def marked_images(shape: tuple[int, ...], binary: bool = False):
  """image_fn whose image i is seeded by i: a test can tell every image apart and recompute it."""
  def image_fn(flat_N: np.ndarray) -> np.ndarray:
    out = np.empty((len(flat_N),) + tuple(shape), np.uint8)
    for j, i in enumerate(flat_N):
      rng = np.random.default_rng(int(i))
      out[j] = rng.integers(0, 2 if binary else 256, shape, dtype=np.uint8)
    return out
  return image_fn


def write_dsprites(path: str, sizes=(1, 3, 6, 40, 32, 32), image_fn: Callable | None = None,
                   side: int = 64, names=DSPRITES_NAMES, classes_sizes=None) -> None:
  """A dSprites-format .npz: images of `image_fn(flat indices)` ([n, side, side] in {0, 1}).

  `classes_sizes` writes latents_classes for another grid than the metadata's (to test that
  a mismatch is refused).
  """
  image_fn = image_fn or marked_images((side, side), binary=True)
  num = int(np.prod(sizes))
  values = {n: np.linspace(0.0, 1.0, s) if s > 1 else np.ones(1) for n, s in zip(names, sizes)}
  meta = {"latents_sizes": np.asarray(sizes, np.int64), "latents_names": tuple(names),
          "latents_possible_values": values, "title": "dSprites dataset", "version": 1}
  with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
    _member(zf, "imgs", (num, side, side), np.uint8,
            (image_fn(np.arange(s, min(s + _CHUNK, num))) for s in range(0, num, _CHUNK)))
    csizes = classes_sizes or sizes
    cnum = int(np.prod(csizes))
    _member(zf, "latents_classes", (cnum, len(csizes)), np.int64,
            (grid_factors(csizes, s, min(s + _CHUNK * 16, cnum))
             for s in range(0, cnum, _CHUNK * 16)))
    _member(zf, "latents_values", (num, len(sizes)), np.float64,
            (np.stack([values[n][f] for n, f in zip(names, grid_factors(sizes, s, min(
                s + _CHUNK * 16, num)).T)], 1) for s in range(0, num, _CHUNK * 16)))
    with zf.open("metadata.npy", "w") as f:
      f.write(python2_pickled_npy(meta))


def python2_pickled_npy(obj) -> bytes:
  """The .npy bytes of a 0-d object array holding `obj`, pickled as Python 2 numpy wrote it."""
  buf = io.BytesIO()
  array = np.empty((), dtype=object)
  array[()] = obj
  np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": ()})
  pickled = io.BytesIO()
  _Python2Pickler(pickled, protocol=2).dump(array)
  return buf.getvalue() + pickled.getvalue().replace(b"numpy._core.multiarray",
                                                     b"numpy.core.multiarray")


class _Python2Pickler(pickle._Pickler):  # pylint: disable=protected-access
  """Protocol 2 as Python 2 wrote it: every string (text or bytes) a byte string (BINSTRING),
  where Python 3 would write text as unicode and bytes through _codecs.encode."""

  dispatch = dict(pickle._Pickler.dispatch)  # pylint: disable=protected-access

  def _save_py2_str(self, obj):
    data = obj if isinstance(obj, bytes) else obj.encode("latin1")
    if len(data) < 256:
      self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
    else:
      self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
    self.memoize(obj)

  dispatch[bytes] = _save_py2_str
  dispatch[str] = _save_py2_str


def write_shapes3d(path: str, sizes=(10, 10, 10, 8, 4, 15), image_fn: Callable | None = None,
                   side: int = 64, chunked: bool = False) -> None:
  """A 3D Shapes-format .h5: `images` [N, side, side, 3] uint8 and `labels` [N, 6] float64
  (each factor's values linspace(0, 1, size), shape 0..3 and orientation -30..30 as the
  authors'); `chunked` stores images gzip-compressed in chunks of 64 images."""
  import h5py  # pylint: disable=g-import-not-at-top
  image_fn = image_fn or marked_images((side, side, 3))
  num = int(np.prod(sizes))
  values = [np.linspace(0, 1, s) for s in sizes]
  values[4] = np.arange(sizes[4], dtype=np.float64)
  values[5] = np.linspace(-30, 30, sizes[5])
  with h5py.File(path, "w") as f:
    layout = dict(chunks=(min(64, num), side, side, 3), compression="gzip") if chunked else {}
    images = f.create_dataset("images", (num, side, side, 3), np.uint8, **layout)
    for s in range(0, num, _CHUNK):
      images[s:min(s + _CHUNK, num)] = image_fn(np.arange(s, min(s + _CHUNK, num)))
    factors = grid_factors(sizes, 0, num)
    f.create_dataset("labels", data=np.stack([v[k] for v, k in zip(values, factors.T)], 1))


def write_mpi3d(path: str, sizes=(6, 6, 2, 3, 3, 40, 40), image_fn: Callable | None = None,
                side: int = 64, compressed: bool = False) -> None:
  """An MPI3D-format .npz holding `images` [N, side, side, 3] uint8, stored (np.savez) or
  deflated (np.savez_compressed)."""
  image_fn = image_fn or marked_images((side, side, 3))
  num = int(np.prod(sizes))
  mode = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
  with zipfile.ZipFile(path, "w", mode) as zf:
    _member(zf, "images", (num, side, side, 3), np.uint8,
            (image_fn(np.arange(s, min(s + _CHUNK, num))) for s in range(0, num, _CHUNK)))


def _member(zf: zipfile.ZipFile, name: str, shape, dtype, chunks) -> None:
  """Streams one .npy member (header, then the chunks in order) into the zip, as np.savez."""
  with zf.open(name + ".npy", "w", force_zip64=True) as f:
    np.lib.format.write_array_header_1_0(
        f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
            "shape": tuple(shape)})
    for chunk in chunks:
      f.write(np.ascontiguousarray(chunk, dtype).tobytes())
