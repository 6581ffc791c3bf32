"""Procedural image-translation domains with known truth: paired (pix2pix) and unpaired (CycleGAN).

A scene is one to three shapes (square, disc, triangle; drawn back to front), every number of
it derived from the scene index by a counter-based hash, so any scene renders the same in any
batch, order or process. One scene has three renderings:

  outline  dark one-pixel lines on white where the visible shape map changes (1 channel);
  day      each shape filled in its type's colour, shaded as lit from the top left, on cream;
  night    darker, blue-shifted colours lit from the bottom right, on a navy background.

`paired_shapes` (pix2pix): x = outline, y = day of the same scene, so y is a function of x (the
fill, colour and shading follow from the outline's shapes). `unpaired_shapes` (CycleGAN):
x = day of scene i and y = night of scene sigma(i), where sigma is a fixed random cyclic
permutation (one cycle through the split, so no scene meets its own night); the test split
adds y_true = night of scene i, the true counterpart of each x, for evaluation only.
All images are float32 in [0, 1] at data.resolution pixels; sizes are fractions of the side.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from genjax.core.dataset import DatasetInfo
from genjax.errors import DataError

DEFAULT_NUM_TRAIN = 50_000
DEFAULT_NUM_TEST = 1_000
MAX_SHAPES = 3
SQUARE, DISC, TRIANGLE = 0, 1, 2
# Train and test scenes come from disjoint hash streams, so no test scene is ever trained on
# and changing one split's size leaves the other unchanged.
_SPLIT_STREAM = {"train": 1, "test": 2}
_PAIRING_SEED = 0
# Shape half-extent range and the shading contrast (brightness = 0.75 +- 0.25).
_MIN_SIZE, _MAX_SIZE = 0.12, 0.24
_SHADE = 0.25
_DAY_COLOURS = np.array([[0.85, 0.25, 0.20], [0.20, 0.70, 0.30], [0.20, 0.35, 0.85]], np.float32)
DAY_BACKGROUND = np.array([0.95, 0.92, 0.82], np.float32)
_NIGHT_COLOURS = np.array([[0.55, 0.20, 0.45], [0.15, 0.50, 0.55], [0.45, 0.45, 0.90]], np.float32)
NIGHT_BACKGROUND = np.array([0.06, 0.08, 0.20], np.float32)


# ======================================================================================
# Scenes from indices
# ======================================================================================

def _uniform(scene_N: np.ndarray, stream: int, slot: int) -> np.ndarray:
  """Uniform [0, 1) float64 per scene: splitmix64 of (stream, scene, slot), vectorised."""
  offset = np.uint64((stream * 0x9E3779B97F4A7C15 + slot) % 2**64)  # Python ints: no overflow
  z = scene_N.astype(np.uint64) * np.uint64(64) + offset
  z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
  z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
  z ^= z >> np.uint64(31)
  return (z >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def scenes(scene_N: np.ndarray, stream: int) -> dict[str, np.ndarray]:
  """Scene parameters of scene indices [N] in a hash stream.

  Returns:
    count [N] int (1..3 shapes); per slot k (back to front) [N, 3]: kind (0 square, 1 disc,
    2 triangle), size (half-extent), cx, cy (centre; y grows downward), all in canvas sides.
  """
  scene_N = np.asarray(scene_N, np.int64)
  def u(slot):
    return _uniform(scene_N, stream, slot)

  count = 1 + np.minimum((u(0) * MAX_SHAPES).astype(np.int64), MAX_SHAPES - 1)
  slots = range(MAX_SHAPES)
  kind = np.stack([np.minimum((u(1 + 4 * k) * 3).astype(np.int64), 2) for k in slots], 1)
  size = np.stack([_MIN_SIZE + (_MAX_SIZE - _MIN_SIZE) * u(2 + 4 * k) for k in slots], 1)
  # Centres keep the whole shape on the canvas.
  cx = np.stack([size[:, k] + (1 - 2 * size[:, k]) * u(3 + 4 * k) for k in slots], 1)
  cy = np.stack([size[:, k] + (1 - 2 * size[:, k]) * u(4 + 4 * k) for k in slots], 1)
  return {"count": count, "kind": kind, "size": size, "cx": cx, "cy": cy}


def _layout(scene: dict[str, np.ndarray], res: int) -> tuple[np.ndarray, np.ndarray]:
  """The visible shape map [N, H, W] (0 background, k + 1 slot k) and the light term in [-1, 1].

  The light term of a pixel is its offset from its own shape's centre towards the top left,
  in half-extents, so a shape's shading follows from its outline alone.
  """
  grid = ((np.arange(res) + 0.5) / res).astype(np.float32)
  n = len(scene["count"])
  slot_NHW = np.zeros((n, res, res), np.int8)
  light_NHW = np.zeros((n, res, res), np.float32)
  for k in range(MAX_SHAPES):
    s = scene["size"][:, k, None, None].astype(np.float32)
    dx = (grid[None, None, :] - scene["cx"][:, k, None, None].astype(np.float32)) / s
    up = (scene["cy"][:, k, None, None].astype(np.float32) - grid[None, :, None]) / s
    kind = scene["kind"][:, k, None, None]
    square = np.maximum(np.abs(dx), np.abs(up)) <= 1.0
    disc = dx * dx + up * up <= 1.0
    triangle = (up >= -1.0) & (np.abs(dx) <= (1.0 - up) / 2.0)  # apex up, base 2 wide
    inside = np.where(kind == SQUARE, square, np.where(kind == DISC, disc, triangle))
    inside &= (scene["count"] > k)[:, None, None]
    slot_NHW[inside] = k + 1
    light_NHW = np.where(inside, np.clip((up - dx) / 2.0, -1.0, 1.0), light_NHW)
  return slot_NHW, light_NHW


def _outline(slot_NHW: np.ndarray) -> np.ndarray:
  """Lines [N, H, W, 1]: 0 on shape pixels with another region (or the border) beside them."""
  padded = np.pad(slot_NHW, ((0, 0), (1, 1), (1, 1)))  # the border counts as background
  centre = padded[:, 1:-1, 1:-1]
  edge = ((padded[:, :-2, 1:-1] != centre) | (padded[:, 2:, 1:-1] != centre)
          | (padded[:, 1:-1, :-2] != centre) | (padded[:, 1:-1, 2:] != centre)) & (centre > 0)
  return (~edge).astype(np.float32)[..., None]


def _paint(scene, slot_NHW, light_NHW, colours, background, sign: float) -> np.ndarray:
  """RGB [N, H, W, 3]: each visible slot's type colour times its shading, over the background."""
  n = len(slot_NHW)
  # Per image, colour of slot index 0 (background) .. MAX_SHAPES.
  palette = np.concatenate([np.broadcast_to(background, (n, 1, 3)), colours[scene["kind"]]], 1)
  base = np.take_along_axis(palette, slot_NHW.reshape(n, -1, 1).astype(np.int64), 1)
  base = base.reshape(slot_NHW.shape + (3,))
  shade = np.where(slot_NHW > 0, 1.0 - _SHADE + _SHADE * sign * light_NHW, 1.0)
  return np.clip(base * shade[..., None], 0.0, 1.0).astype(np.float32)


def render(scene_N: np.ndarray, stream: int, res: int) -> dict[str, np.ndarray]:
  """The three renderings of scenes [N]: outline [N,H,W,1], day and night [N,H,W,3]."""
  scene = scenes(scene_N, stream)
  slot, light = _layout(scene, res)
  return {"outline": _outline(slot),
          "day": _paint(scene, slot, light, _DAY_COLOURS, DAY_BACKGROUND, 1.0),
          "night": _paint(scene, slot, light, _NIGHT_COLOURS, NIGHT_BACKGROUND, -1.0)}


def pairing(num: int, seed: int = _PAIRING_SEED) -> np.ndarray:
  """sigma [num]: a random single cycle through 0..num-1 (no fixed points when num > 1)."""
  order = np.random.default_rng(seed).permutation(num)
  sigma = np.empty(num, np.int64)
  sigma[order] = np.roll(order, -1)
  return sigma


# ======================================================================================
# Sources
# ======================================================================================

@dataclasses.dataclass(frozen=True)
class PairedSource:
  """x = outline, y = day rendering of the same scene."""

  info: DatasetInfo
  resolution: int
  stream: int
  size: int

  def __len__(self) -> int:
    return self.size

  def get_batch(self, indices_N: np.ndarray) -> dict[str, np.ndarray]:
    images = render(_checked(indices_N, self.size), self.stream, self.resolution)
    return {"x": images["outline"], "y": images["day"]}


@dataclasses.dataclass(frozen=True)
class UnpairedSource:
  """x = day of scene i, y = night of scene sigma(i); with truth, y_true = night of scene i."""

  info: DatasetInfo
  resolution: int
  stream: int
  sigma: np.ndarray
  with_truth: bool

  def __len__(self) -> int:
    return len(self.sigma)

  def get_batch(self, indices_N: np.ndarray) -> dict[str, np.ndarray]:
    indices_N = _checked(indices_N, len(self))
    a = render(indices_N, self.stream, self.resolution)
    out = {"x": a["day"], "y": render(self.sigma[indices_N], self.stream, self.resolution)["night"]}
    if self.with_truth:
      out["y_true"] = a["night"]
    return out


def _checked(indices_N: np.ndarray, size: int) -> np.ndarray:
  indices_N = np.asarray(indices_N, np.int64)
  if indices_N.size and (indices_N.min() < 0 or indices_N.max() >= size):
    raise DataError(f"scene indices must lie in [0, {size}); got [{indices_N.min()}, "
                    f"{indices_N.max()}]")
  return indices_N


def _split(data_cfg, split: str) -> tuple[int, int, int]:
  """(resolution, hash stream, number of scenes) of a split."""
  if split not in _SPLIT_STREAM:
    raise DataError(f"unknown split '{split}'; use 'train' or 'test'")
  res = int(data_cfg.resolution)
  if res < 16:
    raise DataError(f"data.resolution={res} is too small for the shapes scenes; use 16, 32 or 64")
  size = int(data_cfg.num_train) or DEFAULT_NUM_TRAIN
  if split == "test":
    size = int(data_cfg.num_test) or DEFAULT_NUM_TEST
  return res, _SPLIT_STREAM[split], size


def load_paired(data_cfg, split: str) -> PairedSource:
  """'paired_shapes': outline -> day rendering pairs for pix2pix.

  Args:
    data_cfg: the config's `data` section (uses resolution, num_train, num_test).
    split: 'train' or 'test'.

  Returns:
    A source of x [res, res, 1] (outline) and y [res, res, 3] (its day rendering).
  """
  res, stream, size = _split(data_cfg, split)
  info = DatasetInfo(name="paired_shapes", x_shape=(res, res, 1), kind="image",
                     y_shape=(res, res, 3), paired=True)
  return PairedSource(info=info, resolution=res, stream=stream, size=size)


def load_unpaired(data_cfg, split: str) -> UnpairedSource:
  """'unpaired_shapes': day and night domains without pairs, for CycleGAN.

  Args:
    data_cfg: the config's `data` section (uses resolution, num_train, num_test).
    split: 'train' or 'test'.

  Returns:
    A source of x [res, res, 3] (day) and y [res, res, 3] (an unrelated scene's night); the
    test split also holds y_true, the night rendering of x's own scene.
  """
  res, stream, size = _split(data_cfg, split)
  info = DatasetInfo(name="unpaired_shapes", x_shape=(res, res, 3), kind="image",
                     y_shape=(res, res, 3), paired=False)
  return UnpairedSource(info=info, resolution=res, stream=stream, sigma=pairing(size),
                        with_truth=split == "test")
