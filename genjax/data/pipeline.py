"""The input pipeline: shuffled, repeated, per-host batches from a Source, checkpointable.

Indices, not records, flow through grain: shuffle (reshuffled every epoch from the seed),
repeat forever, batch into global batches, keep this host's contiguous slice of each, and
only then ask the source for that slice at once. One background thread renders the next
few batches while the device trains, and no more: grain's default reader (16 threads, 500
elements ahead, here 500 whole batches) spent more CPU than the training steps of small
models, fighting them for cores and for the GIL. `get_state()` is exact: a restored
iterator yields what the uninterrupted one would have.

`draw_with(probs, epoch)` switches the iterator to drawing each global batch with
replacement from given per-example probabilities (train/resample.py computes them): batch j
comes from a generator seeded by (seed, epoch, j), and the probabilities travel in the
iterator state, so that state still restores exactly.
"""
from __future__ import annotations

import base64
import sys
from typing import Iterator
import zlib

import grain
from grain.experimental import ThreadPrefetchIterDataset
import numpy as np

from genjax.data.base import Source
from genjax.errors import ConfigError

_PREFETCH_BATCHES = 4
# Batches are read in the prefetch thread itself: more reader threads only contend for the
# GIL (a sprites32 batch: 0.9 ms with none, 1.3 ms with 2, 2.3 ms with 16).
_READ_IN_ONE_THREAD = grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)


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
    self._source, self._batch_size, self._seed = source, global_batch_size, seed
    self._local = global_batch_size // process_count
    self._lo = process_index * self._local
    self._weights = None  # (probs [N] float64, epoch) once draw_with was called
    indices = grain.MapDataset.range(len(source)).shuffle(seed=seed).repeat()
    self._iterator = self._start(indices.batch(global_batch_size, drop_remainder=True))

  def _start(self, index_batches: grain.MapDataset):
    """An iterator over this host's slice of each global batch of indices, prefetched."""
    lo, local, source = self._lo, self._local, self._source
    batches = index_batches.map(lambda idx: source.get_batch(np.asarray(idx)[lo:lo + local]))
    return iter(ThreadPrefetchIterDataset(
        batches.to_iter_dataset(_READ_IN_ONE_THREAD), prefetch_buffer_size=_PREFETCH_BATCHES))

  def draw_with(self, probs_N: np.ndarray, epoch: int) -> None:
    """From now on draws global batches with replacement with probabilities `probs_N`.

    The batches already prefetched are dropped: what follows depends only on
    (seed, epoch, probs), never on how far the background thread had run.
    """
    probs_N = np.asarray(probs_N, np.float64)
    if probs_N.shape != (len(self._source),):
      raise ValueError(f"{probs_N.shape} probabilities for {len(self._source)} examples")
    self._iterator.close()
    self._weights = (probs_N, int(epoch))
    self._iterator = self._start(grain.MapDataset.source(
        WeightedIndexBatches(probs_N, self._batch_size, self._seed, int(epoch))))

  def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
    return self

  def __next__(self) -> dict[str, np.ndarray]:
    return next(self._iterator)

  def next_stacked(self, num: int) -> dict[str, np.ndarray]:
    """`num` consecutive batches stacked on a new leading axis (for lax.scan'd steps)."""
    batches = [next(self._iterator) for _ in range(num)]
    return {k: np.stack([b[k] for b in batches]) for k in batches[0]}

  def get_state(self) -> dict:
    if self._weights is None:  # the uniform shuffle's state, as before draw_with existed
      return self._iterator.get_state()
    probs, epoch = self._weights
    return {"iterator": self._iterator.get_state(), "weighted_epoch": epoch,
            "weighted_probs": _pack(probs)}

  def set_state(self, state: dict) -> None:
    if "weighted_probs" in state:
      self.draw_with(_unpack(state["weighted_probs"]), state["weighted_epoch"])
      state = state["iterator"]
    self._iterator.set_state(state)

  def close(self) -> None:
    self._iterator.close()


class WeightedIndexBatches:
  """An endless random-access sequence: item j is global batch j's example indices [B],
  drawn with replacement with probabilities probs_N by a generator seeded (seed, epoch, j)."""

  def __init__(self, probs_N: np.ndarray, batch_size: int, seed: int, epoch: int):
    cdf = np.cumsum(probs_N)
    self._cdf = cdf / cdf[-1]
    self._batch_size, self._seed, self._epoch = batch_size, seed, epoch

  def __len__(self) -> int:
    return sys.maxsize

  def __getitem__(self, j: int) -> np.ndarray:
    u_B = np.random.default_rng([self._seed, self._epoch, int(j)]).random(self._batch_size)
    return np.minimum(np.searchsorted(self._cdf, u_B, side="right"), len(self._cdf) - 1)


def _pack(probs_N: np.ndarray) -> str:
  """float64 probabilities -> compact JSON-safe text (exact: the raw bytes, compressed)."""
  return base64.b64encode(zlib.compress(probs_N.astype("<f8").tobytes())).decode("ascii")


def _unpack(text: str) -> np.ndarray:
  return np.frombuffer(zlib.decompress(base64.b64decode(text)), "<f8").copy()


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
