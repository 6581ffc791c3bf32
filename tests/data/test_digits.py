"""Digits: sklearn's 8x8 digits as [8u, 8u, 1] images in [0, 1], a fixed stratified split."""
from __future__ import annotations

import numpy as np
import pytest

from genjax.data import digits
from genjax.errors import DataError


def test_split_sizes_shapes_ranges_and_info(data_cfg):
  train = digits.load(data_cfg(name="digits"), "train")
  test = digits.load(data_cfg(name="digits"), "test")
  assert len(train) == 1500 and len(test) == 297
  x, y = train.arrays["x"], train.arrays["label"]
  assert x.shape == (1500, 8, 8, 1) and x.dtype == np.float32
  assert y.dtype == np.int32 and set(np.unique(y)) == set(range(10))
  assert x.min() == 0.0 and x.max() == 1.0  # counts 0..16 divided by 16
  np.testing.assert_array_equal(np.unique(x * 16), np.arange(17))
  assert train.info.x_shape == (8, 8, 1) and train.info.num_classes == 10
  assert train.info.kind == "image" and not train.info.binary


def test_split_is_stratified_and_partitions_the_dataset(data_cfg):
  from sklearn import datasets
  full = datasets.load_digits()
  train = digits.load(data_cfg(name="digits"), "train").arrays
  test = digits.load(data_cfg(name="digits"), "test").arrays
  # Train + test, as a multiset of (image, label) rows, is exactly the whole dataset once.
  def rows(x, y):
    flat = np.concatenate([np.rint(x.reshape(len(y), -1) * 16), y[:, None]], 1)
    return flat[np.lexsort(flat.T[::-1])]
  both = rows(np.concatenate([train["x"], test["x"]]), np.concatenate([train["label"],
                                                                       test["label"]]))
  np.testing.assert_array_equal(both, rows(full.images / 16, full.target))
  # Stratified: each class holds its share (about 29.7) of the 297 test images.
  counts = np.bincount(test["label"], minlength=10)
  expected = np.bincount(full.target, minlength=10) * 297 / 1797
  assert np.abs(counts - expected).max() <= 1


def test_split_is_fixed(data_cfg):
  a = digits.load(data_cfg(name="digits"), "test").arrays["label"]
  digits._split_arrays.cache_clear()
  b = digits.load(data_cfg(name="digits"), "test").arrays["label"]
  np.testing.assert_array_equal(a, b)


def test_upscale_repeats_pixels(data_cfg):
  small = digits.load(data_cfg(name="digits"), "test").arrays["x"]
  big = digits.load(data_cfg(name="digits", upscale=3), "test")
  assert big.info.x_shape == (24, 24, 1) and big.arrays["x"].shape == (297, 24, 24, 1)
  for dy in range(3):
    for dx in range(3):
      np.testing.assert_array_equal(big.arrays["x"][:, dy::3, dx::3], small)


def test_num_train_truncates_and_bad_input_raises(data_cfg):
  assert len(digits.load(data_cfg(name="digits", num_train=100), "train")) == 100
  with pytest.raises(DataError, match="num_test"):
    digits.load(data_cfg(name="digits", num_test=298), "test")
  with pytest.raises(DataError, match="split"):
    digits.load(data_cfg(name="digits"), "val")
