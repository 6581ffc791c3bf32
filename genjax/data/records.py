"""Fixed-size records read by offset from uncompressed files, and the one-time cache that makes them.

A stored dataset too large for memory (3D Shapes: 5.9 GB of pixels, MPI3D: 12.7 GB) is read
a batch at a time with positioned reads (`os.preadv` straight into the batch's array) from
an uncompressed file: the dataset file itself when its images lie there contiguously, or
else a cache file written once by `cached_records` (an .npy under data.cache_dir, default
genjax's cache root: $GENJAX_CACHE, else ~/.cache/genjax) while the compressed original is
streamed through, with a progress line.
Positioned reads, unlike a memory map, leave the file's pages in the kernel's page cache and
out of the process's resident memory, so a long run never grows towards the file's size.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import sys
import time
from typing import Iterator

import numpy as np

from genjax import config as gconfig
from genjax.errors import DataError

_PROGRESS_SECONDS = 5.0


@dataclasses.dataclass(frozen=True)
class RecordFile:
  """`count` records of `shape` and `dtype`, stored one after another from byte `offset`."""

  path: str
  offset: int
  shape: tuple[int, ...]
  dtype: np.dtype
  count: int

  @property
  def record_bytes(self) -> int:
    return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

  def check_size(self, what: str) -> None:
    """One-line refusal when the file ends before its last record (a truncated file)."""
    need = self.offset + self.count * self.record_bytes
    have = os.path.getsize(self.path)
    if have < need:
      raise DataError(f"{what} is truncated: it holds {have} bytes but its {self.count} images "
                      f"need {need}; copy or download the file again")

  def read_sorted(self, indices_N: np.ndarray) -> np.ndarray:
    """Records [N, *shape] at increasing, distinct `indices_N`; consecutive ones in one read."""
    indices_N = np.asarray(indices_N, np.int64)
    out = np.empty((len(indices_N),) + tuple(self.shape), self.dtype)
    if not len(indices_N):
      return out
    size = self.record_bytes
    flat = memoryview(out.reshape(-1).view(np.uint8))
    starts = np.flatnonzero(np.diff(indices_N, prepend=-2) != 1)
    ends = np.append(starts[1:], len(indices_N))
    fd = os.open(self.path, os.O_RDONLY)
    try:
      for lo, hi in zip(starts.tolist(), ends.tolist()):
        want = (hi - lo) * size
        got = os.preadv(fd, [flat[lo * size:hi * size]], self.offset + int(indices_N[lo]) * size)
        if got != want:
          raise DataError(f"'{self.path}' ended early (a truncated file); copy it again")
    finally:
      os.close(fd)
    return out


def data_path(data_cfg, dataset: str, expected: str) -> str:
  """data.path for a dataset read from a file its authors distribute; one line when unset."""
  path = str(gconfig.optional({"data": data_cfg}, "data.path"))
  if not path:
    raise DataError(f"data.name='{dataset}' reads {expected}; pass --config.data.path=PATH "
                    "(genjax never downloads: fetch the file on a machine with network)")
  if not os.path.exists(path):
    raise DataError(f"data.path='{path}' does not exist; point it at {expected}")
  return path


def cache_dir(data_cfg) -> str:
  """data.cache_dir, or genjax's cache root (gconfig.cache_root) when it is empty."""
  return str(gconfig.optional({"data": data_cfg}, "data.cache_dir")) or gconfig.cache_root()


def file_key(path: str, *parts) -> str:
  """A cache key of a file's identity (absolute path, size, mtime) and further parts: a
  replaced or edited file gets a new cache entry instead of a stale one."""
  st = os.stat(path)
  text = "\0".join(str(p) for p in (os.path.realpath(path), st.st_size, st.st_mtime_ns, *parts))
  return hashlib.sha256(text.encode()).hexdigest()[:16]


def cached_records(directory: str, name: str, shape: tuple[int, ...], dtype, count: int,
                   chunks: Iterator[np.ndarray], what: str) -> RecordFile:
  """The records of the cache file `name`.npy in `directory`, written first if absent.

  Args:
    directory: the cache directory (created when missing).
    name: the cache file's name without '.npy'; include a `file_key` of the source.
    shape: the shape of one record.
    dtype: the records' dtype.
    count: how many records `chunks` yields in all.
    chunks: arrays [n, *shape] in record order, consumed only when the cache is written.
    what: the data being extracted, for the progress line and errors.

  Returns:
    A RecordFile over the complete cache file (written to a temporary name and renamed, so
    an interrupted extraction leaves no partial cache behind).
  """
  dtype = np.dtype(dtype)
  path = os.path.join(directory, name + ".npy")
  header = _npy_header(shape, dtype, count)
  records = RecordFile(path, len(header), tuple(shape), dtype, count)
  if os.path.exists(path) and os.path.getsize(path) == len(header) + count * records.record_bytes:
    return records
  try:
    os.makedirs(directory, exist_ok=True)
    free = shutil.disk_usage(directory).free
  except OSError as e:
    raise DataError(f"cannot use the cache directory '{directory}' ({e.strerror}); set "
                    "data.cache_dir to a writable directory") from None
  total = count * records.record_bytes
  if free < total:
    raise DataError(f"extracting {what} needs {total / 1e9:.1f} GB in data.cache_dir="
                    f"'{directory}', which has {free / 1e9:.1f} GB free; point data.cache_dir "
                    "at a larger disk")
  tmp = f"{path}.tmp{os.getpid()}"
  progress(f"extracting {what} to {path} (once; {total / 1e9:.2f} GB)")
  start = last = time.monotonic()
  written = 0
  try:
    with open(tmp, "wb") as f:
      f.write(header)
      for chunk in chunks:
        f.write(np.ascontiguousarray(chunk, dtype).tobytes())
        written += len(chunk)
        if time.monotonic() - last > _PROGRESS_SECONDS:
          last = time.monotonic()
          progress(f"extracting {what}: {100 * written / count:.0f} % "
                    f"({last - start:.0f} s)")
    if written != count:
      raise DataError(f"{what} yielded {written} records instead of {count}")
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  progress(f"extracted {what} in {time.monotonic() - start:.0f} s")
  return records


def _npy_header(shape: tuple[int, ...], dtype: np.dtype, count: int) -> bytes:
  """The .npy header of a C-ordered [count, *shape] array, so the cache is a plain .npy."""
  import io  # pylint: disable=g-import-not-at-top
  buf = io.BytesIO()
  np.lib.format.write_array_header_2_0(
      buf, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
            "shape": (count,) + tuple(shape)})
  return buf.getvalue()


def progress(text: str) -> None:
  """One line on stderr about slow one-time work (genjax: ...), never an error line."""
  print(f"genjax: {text}", file=sys.stderr, flush=True)
