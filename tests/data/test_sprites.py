"""Sprites: the dSprites factor grid, deterministic rendering, and hand-checked images."""
from __future__ import annotations

import numpy as np
import pytest

from genjax.data import sprites
from genjax.errors import DataError

SQUARE, ELLIPSE, HEART = 0, 1, 2
QUARTER_TURN = 10  # orientation index of pi/2: 40 steps of 2*pi/40


def one(shape=SQUARE, scale=5, orientation=0, pos_x=15, pos_y=15, res=64) -> np.ndarray:
  """One rendered image [res, res] for the given factor indices."""
  return sprites.render(np.array([[shape, scale, orientation, pos_x, pos_y]]), res)[0, :, :, 0]


def test_flat_index_is_mixed_radix_with_pos_y_fastest():
  f = np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 1, 0], [0, 0, 1, 0, 0],
                [0, 1, 0, 0, 0], [1, 0, 0, 0, 0], [2, 5, 39, 31, 31]])
  np.testing.assert_array_equal(sprites.indices_from_factors(f),
                                [0, 1, 32, 1024, 40960, 245760, 737279])
  assert sprites.NUM_IMAGES == 737_280


def test_factor_index_round_trip():
  idx = np.random.default_rng(0).integers(0, sprites.NUM_IMAGES, 5000)
  f = sprites.factors_from_indices(idx)
  assert f.dtype == np.int32 and f.shape == (5000, 5)
  assert (f >= 0).all() and (f < np.array(sprites.factor_sizes)).all()
  np.testing.assert_array_equal(sprites.indices_from_factors(f), idx)


def test_out_of_range_factors_raise_data_error():
  with pytest.raises(DataError, match="out of range"):
    sprites.indices_from_factors(np.array([[3, 0, 0, 0, 0]]))
  with pytest.raises(DataError, match="737280"):
    sprites.factors_from_indices(np.array([sprites.NUM_IMAGES]))


def test_factor_values_follow_dsprites():
  v = sprites.factor_values(np.array([[2, 0, 10, 31, 0]]))[0]
  np.testing.assert_allclose(v, [3.0, 0.5, np.pi / 2, 1.0, 0.0], rtol=1e-6)


def test_rendering_is_deterministic_and_batch_independent():
  f = sprites.factors_from_indices(np.random.default_rng(1).integers(0, sprites.NUM_IMAGES, 300))
  batch = sprites.render(f, 32)
  np.testing.assert_array_equal(batch, sprites.render(f, 32))
  # Shapes are rendered in per-shape groups: an image must not depend on its batch-mates.
  for i in (0, 17, 299):
    np.testing.assert_array_equal(batch[i], sprites.render(f[i:i + 1], 32)[0])


@pytest.mark.parametrize("res", [64, 32, 16])
def test_images_are_binary_float32_and_never_empty(res):
  f = sprites.factors_from_indices(np.random.default_rng(2).integers(0, sprites.NUM_IMAGES, 500))
  x = sprites.render(f, res)
  assert x.shape == (500, res, res, 1) and x.dtype == np.float32
  assert set(np.unique(x)) == {0.0, 1.0}
  assert x.sum(axis=(1, 2, 3)).min() >= 2  # even a small ellipse at 16 px shows


def test_scale_one_square_is_axis_aligned_with_the_expected_area():
  # Side 0.3 of the canvas = 19.2 px at 64: each row/column holds 19 or 20 pixel centres.
  counts = []
  for pos_x in range(32):
    img = one(pos_x=pos_x, pos_y=pos_x)
    rows, cols = img.any(1), img.any(0)
    np.testing.assert_array_equal(img, np.outer(rows, cols))  # a filled axis-aligned box
    assert rows.sum() in (19, 20) and cols.sum() in (19, 20)
    counts.append(img.sum())
  assert abs(np.mean(counts) / 19.2**2 - 1) < 0.04


def test_scale_scales_the_area_quadratically():
  px, py = np.meshgrid(np.arange(32), np.arange(32))
  f = np.stack([np.zeros(1024), np.zeros(1024), np.zeros(1024), px.ravel(), py.ravel()], 1)
  area_small = sprites.render(f.astype(int), 64).sum((1, 2, 3)).mean()
  assert abs(area_small / (0.3 * 0.5 * 64)**2 - 1) < 0.03  # 9.6 px side, over all positions


def test_shape_moves_with_pos_x_by_the_expected_step():
  cols = np.arange(64) + 0.5
  def centroid(img):
    return (img.sum(0) * cols).sum() / img.sum(), (img.sum(1) * cols).sum() / img.sum()
  x0, y0 = centroid(one(shape=HEART, pos_x=0))
  x1, y1 = centroid(one(shape=HEART, pos_x=31))
  # Centres span 1 - 2 * 0.15 * sqrt(2) of the canvas: 36.85 px at 64.
  assert abs((x1 - x0) - (1 - 0.3 * np.sqrt(2)) * 64) < 0.5
  assert abs(y1 - y0) < 1e-6


def test_pos_y_grows_downward():
  top, bottom = one(pos_y=0), one(pos_y=31)
  assert np.flatnonzero(top.any(1)).max() < 32 < np.flatnonzero(bottom.any(1)).min()


@pytest.mark.parametrize("shape, turn", [(SQUARE, QUARTER_TURN), (SQUARE, 2 * QUARTER_TURN),
                                         (SQUARE, 3 * QUARTER_TURN), (ELLIPSE, 2 * QUARTER_TURN)])
def test_symmetric_turns_leave_the_image_unchanged(shape, turn):
  # A square is symmetric under quarter turns, an ellipse under half turns: every scale and
  # position must give the same pixels, with no boundary pixel flipped by rounding.
  f = np.stack(np.meshgrid([shape], range(6), [0], range(32), range(32), indexing="ij"),
               -1).reshape(-1, 5)
  turned = f.copy()
  turned[:, 2] = turn
  np.testing.assert_array_equal(sprites.render(f, 64), sprites.render(turned, 64))
  assert (one(shape=shape, orientation=5) != one(shape=shape)).any()  # 45 degrees differs


def test_quarter_turned_ellipse_swaps_width_and_height():
  flat, upright = one(shape=ELLIPSE), one(shape=ELLIPSE, orientation=QUARTER_TURN)
  # Semi-axes 1.2 and 0.6 units of 0.15 canvas: 23.0 px by 11.5 px at 64.
  assert flat.any(0).sum() in (23, 24) and flat.any(1).sum() in (11, 12)
  assert upright.any(1).sum() in (23, 24) and upright.any(0).sum() in (11, 12)


def test_orientation_turns_counter_clockwise():
  rows, cols = np.nonzero(one(shape=ELLIPSE, orientation=5))  # 45 degrees
  up = -rows
  # Long axis rising to the right. For a filled 2:1 ellipse at 45 degrees the axis variances
  # are 4:1, so the coordinates' correlation is (4 - 1) / (4 + 1) = 0.6.
  assert abs(np.corrcoef(cols, up)[0, 1] - 0.6) < 0.03


def test_heart_points_down_with_its_lobes_on_top():
  img = one(shape=HEART)
  rows = np.flatnonzero(img.any(1))
  widths = img[rows].sum(1)
  assert widths[-1] <= 3 and widths.argmax() < len(rows) / 2  # tip below, widest part above
  assert np.abs(np.diff(img[rows[0]])).sum() == 4  # two separate lobes: two runs of pixels


def test_no_shape_is_clipped_at_the_border():
  # Every shape at scale 1 and any orientation keeps the area it has in the centre.
  for shape in (SQUARE, ELLIPSE, HEART):
    centre_area = one(shape=shape).sum()
    for orientation in range(0, 40, 3):
      for pos_x, pos_y in ((0, 0), (31, 31), (0, 31)):
        area = one(shape=shape, orientation=orientation, pos_x=pos_x, pos_y=pos_y).sum()
        assert abs(area / centre_area - 1) < 0.08, (shape, orientation, pos_x, pos_y)


def test_splits_are_disjoint_and_sized(data_cfg):
  test = sprites.load(data_cfg(name="sprites", resolution=16), "test")
  train = sprites.load(data_cfg(name="sprites", resolution=16), "train")
  assert len(test) == 10_000 and len(train) == sprites.NUM_IMAGES - 10_000
  assert np.intersect1d(test.image_indices, train.image_indices).size == 0
  small = sprites.load(data_cfg(name="sprites", num_train=100, num_test=50), "train")
  assert len(small) == 100
  np.testing.assert_array_equal(
      small.image_indices, sprites.load(data_cfg(num_test=50), "train").image_indices[:100])


def test_source_records_and_info(data_cfg):
  src = sprites.load(data_cfg(name="sprites", resolution=32), "test")
  assert src.info.x_shape == (32, 32, 1) and src.info.binary and src.info.kind == "image"
  assert src.info.factor_sizes == (3, 6, 40, 32, 32)
  assert src.info.factor_names == ("shape", "scale", "orientation", "pos_x", "pos_y")
  batch = src.get_batch(np.array([0, 5, 9_999]))
  assert batch["x"].shape == (3, 32, 32, 1)
  assert batch["factors"].dtype == np.int32 and batch["factors"].shape == (3, 5)
  assert batch["factor_values"].dtype == np.float32
  np.testing.assert_array_equal(sprites.indices_from_factors(batch["factors"]),
                                src.image_indices[[0, 5, 9_999]])
  np.testing.assert_array_equal(batch["x"], sprites.render(batch["factors"], 32))


def test_bad_split_and_sizes_raise_data_error(data_cfg):
  with pytest.raises(DataError, match="split"):
    sprites.load(data_cfg(name="sprites"), "validation")
  with pytest.raises(DataError, match="num_train"):
    sprites.load(data_cfg(name="sprites", num_train=10**6), "train")
