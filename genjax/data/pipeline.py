"""The input pipeline: shuffled, repeated, per-host batches from a Source, checkpointable.

Indices, not records, flow through grain: shuffle (reshuffled every epoch from the seed),
repeat forever, batch into global batches, keep this host's contiguous slice of each, and
only then ask the source for that slice at once. A background thread renders the next
batches while the device trains. `get_state()` is exact: a restored iterator yields what
the uninterrupted one would have.
"""
from __future__ import annotations

from typing import Iterator

import grain
from grain.experimental import ThreadPrefetchIterDataset
import numpy as np

from genjax.data.base import Source
from genjax.errors import ConfigError

_PREFETCH_BATCHES = 4


class TrainBatches:
  """An endless, checkpointable iterator of this host's share of each global batch."""

  def __init__(self, source: Source, global_batch_size: int, seed: int,
               process_index: int = 0, process_count: int = 1):
    if global_batch_size % process_count:
      raise ConfigError(
          f"data.batch_size={global_batch_size} must be divisible by the {process_count} processes")
    if len(source) < global_batch_size:
      raise ConfigError(
          f"data.batch_size={global_batch_size} exceeds the {len(source)} training examples of "
          f"'{source.info.name}'; lower data.batch_size")
    # Batch the global index stream, then keep this host's contiguous slice: global batch k
    # holds the same examples in the same order for any process count (per-example noise is
    # drawn by position, so a strided split would change the numbers), and the iterator
    # state (a global batch count) is the same on every host and for any process count.
    local = global_batch_size // process_count
    lo = process_index * local
    indices = grain.MapDataset.range(len(source)).shuffle(seed=seed).repeat()
    batches = indices.batch(global_batch_size, drop_remainder=True)
    batches = batches.map(lambda idx: source.get_batch(np.asarray(idx)[lo:lo + local]))
    self._iterator = iter(ThreadPrefetchIterDataset(
        batches.to_iter_dataset(), prefetch_buffer_size=_PREFETCH_BATCHES))

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    return next(self._iterator)

  def next_stacked(self, num: int) -> dict[str, np.ndarray]:
    """`num` consecutive batches stacked on a new leading axis (for lax.scan'd steps)."""
    batches = [next(self._iterator) for _ in range(num)]
    return {k: np.stack([b[k] for b in batches]) for k in batches[0]}

  def get_state(self) -> dict:
    return self._iterator.get_state()

  def set_state(self, state: dict) -> None:
    self._iterator.set_state(state)

  def close(self) -> None:
    self._iterator.close()


def eval_batches(source: Source, batch_size: int, num: int,
                 process_index: int = 0, process_count: int = 1) -> Iterator[dict[str, np.ndarray]]:
  """The first `num` examples (rounded down to whole batches), in order, this host's share."""
  if batch_size % process_count:
    raise ConfigError(
        f"data.eval_batch_size={batch_size} must be divisible by the {process_count} processes")
  num = min(num, len(source)) // batch_size * batch_size
  if num == 0:
    raise ConfigError(
        f"data.eval_batch_size={batch_size} exceeds the {len(source)} held-out examples of "
        f"'{source.info.name}'; lower data.eval_batch_size")
  local = batch_size // process_count
  for start in range(0, num, batch_size):
    lo = start + process_index * local
    yield source.get_batch(np.arange(lo, lo + local))
