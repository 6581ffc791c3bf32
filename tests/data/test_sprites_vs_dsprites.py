"""Our sprites renderer against the real dSprites file, image for image (needs $GENJAX_DSPRITES).

The real file is not on the project's machines and nothing may download it, so this test is
skipped unless $GENJAX_DSPRITES names dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz. Both
grids have the same factors in the same C order (shape 3, scale 6, orientation 40, x 32,
y 32), so flat index i is the same cell in both. Run with -s to see the per-factor table.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from genjax import config as gconfig
from genjax import data as gdata
from genjax.data import sprites

PATH = os.environ.get("GENJAX_DSPRITES", "")
# A renderer of the same shapes at the same places overlaps each file image by more than half
# (IoU 0.5 is what two equal squares offset by a third of their side give): a floor, not a
# measurement; the table printed says how close it is.
MIN_MEAN_IOU = 0.5


def iou(a_NHW: np.ndarray, b_NHW: np.ndarray) -> np.ndarray:
  inter = np.logical_and(a_NHW, b_NHW).sum((1, 2))
  union = np.logical_or(a_NHW, b_NHW).sum((1, 2))
  return inter / np.maximum(union, 1)


@pytest.mark.skipif(not os.path.isfile(PATH), reason="set GENJAX_DSPRITES to the real file")
def test_renderer_matches_the_dsprites_file_factor_by_factor():
  cfg = gconfig.base_config().data
  cfg.update(dict(name="dsprites", path=PATH))
  real = gdata.load(cfg, "test")
  assert real.info.factor_sizes == sprites.factor_sizes
  # Every shape x scale x orientation cell at 4 positions per axis (corners and middle).
  pos = np.array([0, 10, 21, 31])
  grids = np.meshgrid(range(3), range(6), range(40), pos, pos, indexing="ij")
  factors = np.stack([g.reshape(-1) for g in grids], 1).astype(np.int32)
  ours = sprites.render(factors, 64)[..., 0] > 0.5
  theirs = real.get_by_factors(factors)["x"][..., 0] > 0.5
  score = iou(ours, theirs)
  print(f"\nmean IoU {score.mean():.3f} over {len(score)} images")
  for k, name in enumerate(sprites.FACTOR_NAMES[:3]):
    per = [score[factors[:, k] == v].mean() for v in range(sprites.factor_sizes[k])]
    print(f"  by {name}: " + " ".join(f"{p:.2f}" for p in per))
  area = ours.sum((1, 2)) / np.maximum(theirs.sum((1, 2)), 1)
  print(f"  area ratio ours / file: median {np.median(area):.2f}")
  assert score.mean() >= MIN_MEAN_IOU
