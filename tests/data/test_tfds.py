"""TFDS source: a tiny dataset built on disk without TensorFlow, read back through genjax.data."""
from __future__ import annotations

import numpy as np
import pytest

from genjax import data as gdata
from genjax.data import tfds_testing
from genjax.errors import DataError

NUM_TRAIN, NUM_TEST, SHAPE = 64, 16, (16, 16, 1)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  tfds_testing.build_tiny_dataset(data_dir, num_train=NUM_TRAIN, num_test=NUM_TEST, shape=SHAPE)
  return data_dir


def ids_of(x):
  return np.rint(x[:, 0, 0, 0] * 255).astype(int)


@pytest.mark.parametrize("split, first_id, num", [("train", 0, NUM_TRAIN),
                                                  ("test", NUM_TRAIN, NUM_TEST)])
def test_tiny_dataset_reads_back_exactly(data_cfg, tiny_dir, split, first_id, num):
  src = gdata.load(data_cfg(name="tfds:genjax_tiny", data_dir=tiny_dir), split)
  assert len(src) == num
  assert src.info.x_shape == SHAPE and src.info.num_classes == 10 and src.info.kind == "image"
  batch = src.get_batch(np.arange(num))
  assert batch["x"].shape == (num, *SHAPE) and batch["x"].dtype == np.float32
  assert batch["label"].dtype == np.int32
  ids = ids_of(batch["x"])
  assert sorted(ids) == list(range(first_id, first_id + num))
  expected = np.stack([tfds_testing.tiny_image(i, SHAPE) for i in ids]) / 255
  np.testing.assert_allclose(batch["x"], expected, atol=1e-7)
  np.testing.assert_array_equal(batch["label"], ids % 10)


def test_get_batch_follows_the_requested_order(data_cfg, tiny_dir):
  src = gdata.load(data_cfg(name="tfds:genjax_tiny", data_dir=tiny_dir), "train")
  whole = ids_of(src.get_batch(np.arange(NUM_TRAIN))["x"])
  picked = ids_of(src.get_batch(np.array([5, 3, 60, 3]))["x"])
  np.testing.assert_array_equal(picked, whole[[5, 3, 60, 3]])


def test_num_train_truncates(data_cfg, tiny_dir):
  assert len(gdata.load(data_cfg(name="tfds:genjax_tiny", data_dir=tiny_dir, num_train=10),
                        "train")) == 10
  with pytest.raises(DataError, match="num_test"):
    gdata.load(data_cfg(name="tfds:genjax_tiny", data_dir=tiny_dir, num_test=17), "test")


def test_rgb_images_keep_their_channels(data_cfg, tmp_path):
  tfds_testing.build_tiny_dataset(str(tmp_path), name="genjax_tiny_rgb", num_train=4,
                                  num_test=2, shape=(8, 8, 3))
  src = gdata.load(data_cfg(name="tfds:genjax_tiny_rgb", data_dir=str(tmp_path)), "test")
  x = src.get_batch(np.arange(2))["x"]
  assert x.shape == (2, 8, 8, 3)
  expected = np.stack([tfds_testing.tiny_image(i, (8, 8, 3)) for i in ids_of(x)]) / 255
  np.testing.assert_allclose(x, expected, atol=1e-7)


def test_missing_dataset_raises_data_error_naming_it_and_the_fix(data_cfg, tmp_path):
  with pytest.raises(DataError, match="genjax_absent.*not found.*tfds build") as err:
    gdata.load(data_cfg(name="tfds:genjax_absent", data_dir=str(tmp_path)), "train")
  assert str(tmp_path) in str(err.value)


def test_known_but_unprepared_dataset_raises_data_error(data_cfg, tmp_path):
  # mnist is registered in TFDS, so only the missing files tell that it is absent.
  with pytest.raises(DataError, match="'mnist' is not prepared.*data.data_dir"):
    gdata.load(data_cfg(name="tfds:mnist", data_dir=str(tmp_path)), "train")


def test_missing_split_raises_data_error(data_cfg, tiny_dir):
  with pytest.raises(DataError, match="no split 'validation'.*train, test"):
    gdata.load(data_cfg(name="tfds:genjax_tiny", data_dir=tiny_dir), "validation")
