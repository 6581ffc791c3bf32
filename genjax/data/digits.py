"""scikit-learn's bundled handwritten digits (1,797 8x8 images, 10 classes): real data, offline.

Pixels hold counts 0..16 (each 8x8 pixel summed a 4x4 block of a 32x32 bitmap); x is count / 16
in [0, 1]. `upscale` u enlarges images to [8u, 8u, 1] by nearest-neighbour repetition, which
keeps every value and the blocky look of the data (bilinear would invent in-between values).
The split is fixed and stratified by class: 1,500 train / 297 test, seed 0.
"""
from __future__ import annotations

import functools

import numpy as np

from genjax.core.dataset import DatasetInfo
from genjax.data.base import ArraySource
from genjax.errors import DataError

NUM_TEST = 297
SPLIT_SEED = 0
_MAX_COUNT = 16.0


@functools.cache
def _split_arrays() -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """{'train'|'test': (images [N, 8, 8] float32 in [0, 1], labels [N] int32)}, read once."""
  from sklearn import datasets, model_selection  # sklearn's import costs ~1 s; pay it on use
  digits = datasets.load_digits()
  x_N88 = (digits.images / _MAX_COUNT).astype(np.float32)
  y_N = digits.target.astype(np.int32)
  x_tr, x_te, y_tr, y_te = model_selection.train_test_split(
      x_N88, y_N, test_size=NUM_TEST, stratify=y_N, random_state=SPLIT_SEED)
  return {"train": (x_tr, y_tr), "test": (x_te, y_te)}


def load(data_cfg, split: str) -> ArraySource:
  """The digits split named by `split`, upscaled by `data_cfg.upscale`.

  Args:
    data_cfg: the config's `data` section (uses upscale, num_train, num_test).
    split: 'train' or 'test'.

  Returns:
    An in-memory source of x [8u, 8u, 1] float32 in [0, 1] and label int32 in [0, 10).
  """
  if split not in ("train", "test"):
    raise DataError(f"unknown split '{split}'; use 'train' or 'test'")
  u = int(data_cfg.upscale)
  if u < 1:
    raise DataError(f"data.upscale={u} must be a positive integer (1 keeps 8x8 digits)")
  x_N88, y_N = _split_arrays()[split]
  limit = int(data_cfg.num_train if split == "train" else data_cfg.num_test)
  if limit > len(y_N):
    key = "num_train" if split == "train" else "num_test"
    raise DataError(f"data.{key}={limit} exceeds the {len(y_N)} digits {split} images; lower "
                    f"data.{key} (0 = all)")
  if limit > 0:
    x_N88, y_N = x_N88[:limit], y_N[:limit]
  x_NHW1 = np.repeat(np.repeat(x_N88, u, axis=1), u, axis=2)[..., None]
  info = DatasetInfo(name="digits", x_shape=(8 * u, 8 * u, 1), kind="image", binary=False,
                     num_classes=10, levels=int(_MAX_COUNT))
  return ArraySource(info=info, arrays={"x": np.ascontiguousarray(x_NHW1), "label": y_N.copy()})
