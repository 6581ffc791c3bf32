"""Arrays inside .npz files read without loading them whole, and pickled members read safely.

An .npz is a zip of .npy files. A member stored uncompressed lies in the zip as one block of
bytes, so its records can be read by offset (`stored_records`); a compressed one can only be
streamed front to back (`chunks`). Object members (dSprites' `metadata`, a pickled Python-2
dict) are unpickled by `pickled` with a whitelist of numpy's array constructors: np.load with
allow_pickle would run whatever code a crafted file names, so any other global is refused.
"""
from __future__ import annotations

import codecs
import pickle
import struct
from typing import Iterator
import zipfile
import zlib

import numpy as np

from genjax.data.records import RecordFile
from genjax.errors import DataError

try:  # numpy >= 2 keeps the array constructors in numpy._core
  from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
  from numpy.core import multiarray as _multiarray

# The globals a pickled dict of arrays, strings and numbers refers to (Python 2 and 3 names).
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    # Python 3 pickles bytes at protocol 2 as _codecs.encode(text, 'latin1'): data only.
    ("_codecs", "encode"): codecs.encode,
}
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")  # a zip member's local file header


def open_npz(path: str, what: str) -> zipfile.ZipFile:
  """The zip archive of an .npz file; one DataError for a file that is not one."""
  try:
    return zipfile.ZipFile(path)
  except FileNotFoundError:
    raise DataError(f"{what} '{path}' not found; set data.path to the file") from None
  except IsADirectoryError:
    raise DataError(f"{what} '{path}' is a directory; set data.path to the .npz file") from None
  except (zipfile.BadZipFile, OSError) as e:
    raise DataError(f"'{path}' is not a readable .npz file ({e}): it is truncated or in "
                    f"another format; data.path must be {what}") from None


def header(zf: zipfile.ZipFile, member: str, what: str) -> tuple[tuple[int, ...], np.dtype]:
  """(shape, dtype) of the array `member` (without '.npy'), refusing absent or Fortran ones."""
  with _open_member(zf, member, what) as f:
    shape, fortran, dtype = _read_npy_header(f, member, what)
  if fortran and len(shape) > 1:
    raise DataError(f"{what}: '{member}' is stored in Fortran order; save it in C order "
                    "(the authors' file is)")
  return shape, dtype


def chunks(zf: zipfile.ZipFile, member: str, rows: int, what: str) -> Iterator[np.ndarray]:
  """The array `member` streamed in consecutive slices of `rows` along its first axis."""
  with _open_member(zf, member, what) as f:
    shape, _, dtype = _read_npy_header(f, member, what)
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    for start in range(0, shape[0], rows):
      n = min(rows, shape[0] - start)
      try:
        data = f.read(n * row_bytes)
      except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise DataError(f"{what}: member '{member}' is damaged ({e}); copy the file again") from None
      if len(data) != n * row_bytes:
        raise DataError(f"{what}: member '{member}' ends early (a truncated file); copy it again")
      yield np.frombuffer(data, dtype).reshape((n,) + tuple(shape[1:]))


def stored_records(zf: zipfile.ZipFile, path: str, member: str, what: str) -> RecordFile | None:
  """Records along the first axis of an uncompressed member, read in place; None when the
  member is compressed (it must then be streamed)."""
  info = zf.getinfo(member + ".npy")
  if info.compress_type != zipfile.ZIP_STORED:
    return None
  with open(path, "rb") as raw:
    raw.seek(info.header_offset)
    fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
  if fields[0] != b"PK\x03\x04":
    raise DataError(f"{what}: '{path}' has a damaged zip header; copy the file again")
  member_start = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
  with _open_member(zf, member, what) as f:
    shape, _, dtype = _read_npy_header(f, member, what)
    npy_header_bytes = f.tell()
  records = RecordFile(path, member_start + npy_header_bytes, tuple(shape[1:]), dtype, shape[0])
  records.check_size(f"{what} '{path}'")
  return records


def pickled(zf: zipfile.ZipFile, member: str, what: str):
  """The object stored in the 0-d object array `member`, unpickled with numpy's array
  constructors only (latin1 for Python 2 byte strings); anything else is refused."""
  with _open_member(zf, member, what) as f:
    _, _, dtype = _read_npy_header(f, member, what)
    if not dtype.hasobject:
      raise DataError(f"{what}: '{member}' should hold a pickled object; it holds {dtype}")
    try:
      array = _RestrictedUnpickler(f, encoding="latin1").load()
    except DataError:
      raise
    except Exception as e:  # a damaged pickle fails in many ways
      raise DataError(f"{what}: '{member}' cannot be unpickled ({type(e).__name__}); the "
                      "file is damaged or not this dataset") from None
  array = np.asarray(array)
  return array.item() if array.shape == () else array


class _RestrictedUnpickler(pickle.Unpickler):
  """Unpickles arrays, numbers, strings and containers; refuses every other global."""

  def find_class(self, module, name):
    if (module, name) in _ALLOWED_GLOBALS:
      return _ALLOWED_GLOBALS[module, name]
    raise DataError(f"refusing to unpickle '{module}.{name}' from a data file: genjax reads "
                    "only arrays from pickled metadata (the file is not the expected dataset)")


def _open_member(zf: zipfile.ZipFile, member: str, what: str):
  try:
    return zf.open(member + ".npy")
  except KeyError:
    have = ", ".join(n.removesuffix(".npy") for n in zf.namelist())
    raise DataError(f"{what}: the .npz has no array '{member}' (it has {have or 'none'}); "
                    "data.path must be the file its authors distribute") from None


def _read_npy_header(f, member: str, what: str):
  try:
    version = np.lib.format.read_magic(f)
    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                   else np.lib.format.read_array_header_2_0)
    return read_header(f)
  except (ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
    raise DataError(f"{what}: '{member}' is not a readable .npy array ({e})") from None
