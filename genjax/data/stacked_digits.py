"""Stacked digits: three scikit-learn digits as the three colour channels (1,000 modes).

The analogue of stacked MNIST (Metz et al. 2017; VEEGAN; PacGAN): record i stacks the
digits at three indices drawn once from a seeded generator, so the dataset is fixed; its
label is 100 * a + 10 * b + c for the channel classes (a, b, c). Channel c's digit comes
from the same digits split, so train and test never share an image.
"""
from __future__ import annotations

import ml_collections
import numpy as np

from genjax.core.dataset import DatasetInfo
from genjax.data import digits
from genjax.data.base import ArraySource

DEFAULT_SIZE = {"train": 60_000, "test": 10_000}
_SEED = {"train": 10, "test": 11}


def load(data_cfg, split: str) -> ArraySource:
  """x [8u, 8u, 3] in [0, 1] and label int32 in [0, 1000)."""
  every_digit = ml_collections.ConfigDict(dict(data_cfg.to_dict(), num_train=0, num_test=0))
  single = digits.load(every_digit, split)
  limit = int(data_cfg.num_train if split == "train" else data_cfg.num_test)
  size = limit or DEFAULT_SIZE[split]
  picks_N3 = np.random.default_rng(_SEED[split]).integers(0, len(single), (size, 3))
  x = single.arrays["x"][..., 0]
  y = single.arrays["label"]
  x_NHW3 = np.stack([x[picks_N3[:, c]] for c in range(3)], axis=-1)
  labels = 100 * y[picks_N3[:, 0]] + 10 * y[picks_N3[:, 1]] + y[picks_N3[:, 2]]
  info = DatasetInfo(name="stacked_digits", x_shape=x_NHW3.shape[1:], kind="image",
                     num_classes=1000, levels=single.info.levels)
  return ArraySource(info=info, arrays={"x": x_NHW3, "label": labels.astype(np.int32)})
