"""TFDS builds of the field's datasets: labels mapped to factors, the factor-to-key index."""
from __future__ import annotations

import numpy as np
import pytest

from genjax import data as gdata
from genjax.data import file_testing as ft
from genjax.data import tfds_testing
from genjax.data.base import FactorSource

DSPRITES_LABELS = {"label_shape": 3, "label_scale": 2, "label_orientation": 2,
                   "label_x_position": 2, "label_y_position": 2}
NORB_LABELS = {"label_category": 2, "instance": 2, "label_elevation": 2, "label_azimuth": 2,
               "label_lighting": 2}
ATTRIBUTES = ("Bald", "Male", "Smiling")


@pytest.fixture(scope="module")
def tfds_dir(tmp_path_factory):
  root = str(tmp_path_factory.mktemp("tfds"))
  order = np.random.default_rng(1)
  tfds_testing.build_factor_dataset(root, "dsprites", "2.0.0", (8, 8, 1), DSPRITES_LABELS,
                                    {"train": order.permutation(48)}, binary=True)
  # smallnorb: instances 0 in train, 1 in test (its real splits hold disjoint instances).
  cells = ft.grid_factors(tuple(NORB_LABELS.values()), 0, 32)
  norb = np.arange(32)
  tfds_testing.build_factor_dataset(root, "smallnorb", "2.0.0", (12, 12, 1), NORB_LABELS,
                                    {"train": norb[cells[:, 1] == 0], "test": norb[cells[:, 1] == 1]})
  tfds_testing.build_factor_dataset(root, "celeb_a", "2.1.0", (22, 18, 3), {},
                                    {"train": np.arange(6), "test": np.arange(6, 8)},
                                    attributes=ATTRIBUTES)
  return root


def load(data_cfg, tfds_dir, tmp_path, name, split, **kw):
  return gdata.load(data_cfg(name=f"tfds:{name}", data_dir=tfds_dir,
                             cache_dir=str(tmp_path / "cache"), **kw), split)


def test_dsprites_build_is_a_factor_grid_served_by_factors(data_cfg, tfds_dir, tmp_path):
  train = load(data_cfg, tfds_dir, tmp_path, "dsprites", "train", num_test=8)
  assert isinstance(train, FactorSource)
  assert train.info.factor_names == ("shape", "scale", "orientation", "x_position", "y_position")
  assert train.info.factor_sizes == (3, 2, 2, 2, 2) and train.info.binary
  batch = train.get_batch(np.arange(len(train)))
  flat = batch["factors"] @ np.array([16, 8, 4, 2, 1])
  assert len(set(flat)) == 40  # 48 cells, 8 held out
  np.testing.assert_array_equal(batch["x"], ft.marked_images((8, 8, 1), True)(flat))
  # The index is cached: a second load reads it back and serves the same cells.
  again = load(data_cfg, tfds_dir, tmp_path, "dsprites", "test", num_test=8)
  picked = again.get_by_factors(batch["factors"][:5])
  np.testing.assert_array_equal(picked["x"], batch["x"][:5])


def test_smallnorb_grid_spans_both_splits_and_is_resized(data_cfg, tfds_dir, tmp_path):
  train = load(data_cfg, tfds_dir, tmp_path, "smallnorb", "train", resolution=8)
  test = load(data_cfg, tfds_dir, tmp_path, "smallnorb", "test", resolution=8)
  assert isinstance(test, FactorSource) and test.info.x_shape == (8, 8, 1)
  assert test.info.factor_names[:2] == ("category", "instance")
  assert set(train.get_batch(np.arange(16))["factors"][:, 1]) == {0}
  assert set(test.get_batch(np.arange(16))["factors"][:, 1]) == {1}
  # A held-out instance's cell is drawn by factors from the training split's source too.
  f = test.get_batch(np.arange(3))["factors"]
  np.testing.assert_array_equal(train.get_by_factors(f)["x"], test.get_batch(np.arange(3))["x"])


def test_celeb_a_attributes_are_binary_factors_without_a_grid(data_cfg, tfds_dir, tmp_path):
  src = load(data_cfg, tfds_dir, tmp_path, "celeb_a", "test", resolution=8)
  assert not isinstance(src, FactorSource) and src.info.num_classes == 0
  assert sorted(src.info.factor_names) == sorted(ATTRIBUTES)
  assert src.info.factor_sizes == (2, 2, 2) and src.info.x_shape == (8, 8, 3)
  batch = src.get_batch(np.arange(2))
  # Record f's attribute j is bit j of f; the test split holds f = 6 (110b) and 7 (111b).
  bits = {f: [(f >> ATTRIBUTES.index(n)) & 1 for n in src.info.factor_names] for f in (6, 7)}
  assert sorted(map(list, batch["factors"])) == sorted(bits.values())
