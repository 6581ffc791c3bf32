"""Reads the records of a wandb offline run's `.wandb` file (for tests; wandb ships no reader).

The file is a 7-byte header (b':W&B', a 2-byte magic, a version byte) followed by a
LevelDB-style log: 32 KiB blocks of chunks, each `crc32c (4) | length (2, LE) | type (1) |
data`, type 1 a whole record and 2/3/4 the first/middle/last piece of one that spans
blocks; a block's tail shorter than a chunk header is zero padding. Each record is a
`wandb_internal.Record` protobuf.
"""
from __future__ import annotations

import json
import struct

_HEADER = 7
_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def records(path: str) -> list:
  """Every Record of a .wandb file, in order."""
  from wandb.proto import wandb_internal_pb2  # pylint: disable=g-import-not-at-top
  with open(path, "rb") as f:
    data = f.read()
  assert data[:4] == b":W&B", f"{path} is no wandb transaction log"
  out, pieces, pos = [], [], _HEADER
  while pos + _HEADER <= len(data):
    left_in_block = _BLOCK - pos % _BLOCK
    if left_in_block < _HEADER:  # padding at a block's end
      pos += left_in_block
      continue
    length, kind = struct.unpack("<HB", data[pos + 4:pos + 7])
    if length == 0 and kind == 0:  # zero padding, or the unwritten tail
      pos += left_in_block
      continue
    piece = data[pos + _HEADER:pos + _HEADER + length]
    pos += _HEADER + length
    if kind in (_FULL, _FIRST):
      pieces = [piece]
    else:
      pieces.append(piece)
    if kind in (_FULL, _LAST):
      record = wandb_internal_pb2.Record()
      record.ParseFromString(b"".join(pieces))
      out.append(record)
  return out


def history(path: str) -> list[dict]:
  """The history rows logged into the run: {'_step': step, key: value, ...} each."""
  rows = []
  for record in records(path):
    if record.WhichOneof("record_type") != "history":
      continue
    row = {}
    for item in record.history.item:
      key = item.key or "/".join(item.nested_key)
      row[key] = json.loads(item.value_json)
    rows.append(row)
  return rows


def run_record(path: str):
  """The run's RunRecord (id, project, group, display name, tags...)."""
  return next(r.run for r in records(path) if r.WhichOneof("record_type") == "run")
