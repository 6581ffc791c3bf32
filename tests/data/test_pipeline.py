"""The input pipeline: hosts' slices put together are the one-host batches, its state
resumes on any host count, and its reader runs only a few batches ahead."""
from __future__ import annotations

import time

import numpy as np

from genjax.core.dataset import DatasetInfo
from genjax.data import pipeline


class _Indices:
  """A source whose record i is i, to see which examples land where."""
  info = DatasetInfo(name="indices", x_shape=(), kind="vector")

  def __len__(self):
    return 40

  def get_batch(self, indices_N):
    return {"x": np.asarray(indices_N, np.int64)}


def _take(batches, num):
  out = [next(batches)["x"] for _ in range(num)]
  batches.close()
  return out


def test_host_slices_concatenate_to_the_single_host_batches_in_order():
  single = _take(pipeline.TrainBatches(_Indices(), 8, seed=3), 7)  # crosses an epoch
  hosts = [_take(pipeline.TrainBatches(_Indices(), 8, seed=3, process_index=p, process_count=4), 7)
           for p in range(4)]
  for k, batch in enumerate(single):
    np.testing.assert_array_equal(np.concatenate([h[k] for h in hosts]), batch)


def test_iterator_state_is_the_same_on_every_host_and_resumes_with_another_host_count():
  hosts = [pipeline.TrainBatches(_Indices(), 8, seed=3, process_index=p, process_count=2)
           for p in range(2)]
  states = []
  for batches in hosts:
    for _ in range(3):
      next(batches)
    states.append(batches.get_state())
    batches.close()
  assert states[0] == states[1]
  resumed = pipeline.TrainBatches(_Indices(), 8, seed=3)  # one host takes over
  resumed.set_state(states[0])
  expected = _take(pipeline.TrainBatches(_Indices(), 8, seed=3), 5)[3:]
  for got, want in zip(_take(resumed, 2), expected):
    np.testing.assert_array_equal(got, want)


def test_the_reader_stays_a_few_batches_ahead_and_no_more():
  """Reading ahead is bounded by the prefetch buffer: a reader that ran hundreds of batches
  ahead (grain's default) took the CPU from the training steps it was feeding."""
  reads = []

  class Counted(_Indices):
    def get_batch(self, indices_N):
      reads.append(1)
      return super().get_batch(indices_N)

  batches = pipeline.TrainBatches(Counted(), 8, seed=3)
  next(batches)
  time.sleep(0.5)  # ample time for a background reader to run ahead, if it would
  # the batch taken, the full prefetch buffer, and one being put in it
  assert len(reads) <= 1 + pipeline._PREFETCH_BATCHES + 1
  batches.close()
