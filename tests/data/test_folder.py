"""An image folder: classes from subfolders, resize and centre crop, channels, a fixed split."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image
import pytest

from genjax import data as gdata
from genjax.errors import DataError


def write(path, array):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(array).save(path)


@pytest.fixture
def folder(tmp_path):
  """cat/: 6 RGB 16x8 PNGs of one grey level each (i * 40); dog/: 6 grey 16x8 PNGs, black
  left of x = 8 and white right of it."""
  for i in range(6):
    write(str(tmp_path / "imgs" / "cat" / f"{i}.png"), np.full((8, 16, 3), i * 40, np.uint8))
    wide = np.zeros((8, 16), np.uint8)
    wide[:, 8:] = 255
    write(str(tmp_path / "imgs" / "dog" / f"{i}.png"), wide)
  return str(tmp_path / "imgs")


def load(data_cfg, tmp_path, path, split="train", **kw):
  return gdata.load(data_cfg(name="folder", path=path, resolution=8,
                             cache_dir=str(tmp_path / "cache"), **kw), split)


def test_subfolders_are_classes_and_the_split_partitions_the_images(data_cfg, tmp_path, folder):
  train = load(data_cfg, tmp_path, folder, num_test=3)
  test = load(data_cfg, tmp_path, folder, "test", num_test=3)
  assert train.info.num_classes == 2 and train.info.x_shape == (8, 8, 3)  # cat is RGB
  assert len(train) == 9 and len(test) == 3
  assert sorted(np.concatenate([train.image_indices, test.image_indices])) == list(range(12))
  batch = train.get_batch(np.arange(9))
  for x, label in zip(batch["x"], batch["label"]):
    if label == 0:  # a flat grey level survives resizing exactly
      assert np.ptp(x) == 0 and round(float(x[0, 0, 0]) * 255) % 40 == 0
    else:  # 16x8 -> 16x8 (shorter side already 8) -> the centred 8x8: black left, white right
      np.testing.assert_allclose(x[:, :4], 0.0, atol=1e-6)
      np.testing.assert_allclose(x[:, 4:], 1.0, atol=1e-6)


def test_grey_files_give_one_channel_and_data_channels_overrides(data_cfg, tmp_path, folder):
  grey = os.path.join(folder, "dog")
  assert load(data_cfg, tmp_path, grey, num_test=1).info.x_shape == (8, 8, 1)
  assert load(data_cfg, tmp_path, grey, num_test=1, channels=3).info.x_shape == (8, 8, 3)
  unlabelled = load(data_cfg, tmp_path, grey, num_test=1)
  assert unlabelled.info.num_classes == 0 and "label" not in unlabelled.get_batch(np.arange(2))


@pytest.mark.parametrize("make, message", [
    (lambda d: os.makedirs(d / "empty" / "sub"), "holds no .png/.jpg"),
    (lambda d: (d / "x.png").write_bytes(b"not a png"), "not a readable PNG/JPEG"),
])
def test_a_folder_without_readable_images_is_one_error(data_cfg, tmp_path, make, message):
  root = tmp_path / "bad"
  root.mkdir()
  make(root)
  target = str(root / "empty") if message.startswith("holds") else str(root)
  with pytest.raises(DataError, match=message):
    load(data_cfg, tmp_path, target)
