"""Procedural dSprites-style images: binary shapes rendered from their ground-truth factors.

The factor grid is dSprites' (Matthey et al. 2017; disentanglement_lib): shape 3 (square,
ellipse, heart), scale 6 values linspace(0.5, 1), orientation 40 values linspace(0, 2*pi, 40,
endpoint=False), position x and y 32 values each linspace(0, 1): 737,280 images, one per
flat index in mixed radix (shape slowest, pos_y fastest, as dSprites orders them).

Images are drawn by our own renderer, not read from the dSprites file: a pixel is on when its
centre, moved into the shape's frame (translate, rotate, divide by size), satisfies the shape's
implicit inequality. All sizes are fractions of the canvas side, so 64, 32 and 16 pixel images
show the same scene; the largest square spans 0.3 of the side (19.2 px at 64, within the 1/4
to 1/3 of dSprites) and every position keeps every shape, at any rotation, inside the canvas.
Image rows grow downward (pos_y = 0 is the top row); orientation turns counter-clockwise.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from genjax.core.dataset import DatasetInfo
from genjax.errors import DataError

FACTOR_NAMES = ("shape", "scale", "orientation", "pos_x", "pos_y")
factor_sizes = (3, 6, 40, 32, 32)
NUM_IMAGES = int(np.prod(factor_sizes))  # 737,280
# Flat index = sum(factor * stride): the last factor varies fastest.
_STRIDES = np.cumprod((1,) + factor_sizes[:0:-1])[::-1].astype(np.int64)

SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
POSITIONS = np.linspace(0.0, 1.0, 32)

SQUARE, ELLIPSE, HEART = 0, 1, 2
# A shape's unit: the square's half-side at scale 1, as a fraction of the canvas side.
_UNIT = 0.15
# The heart (half-width 1.2 units) has the square's area (4 square units); the ellipse
# (semi-axes 1.2 and 0.6 units) is as wide as the heart and half as tall.
_ELLIPSE_SEMI_MAJOR = 1.2
_ELLIPSE_SEMI_MINOR = 0.6
# The heart (x^2 + y^2 - 1)^3 <= x^2 y^3 spans x in [-1.139, 1.139], y in [-1, 1.236]; shifting
# y by the box's centre (0.118) centres it, and 1.139 / 1.2 maps units to its own coordinates.
_HEART_SCALE = 1.139 / 1.2
_HEART_Y_CENTRE = 0.118
# Farthest any shape reaches from its centre at scale 1, in canvas sides: the square's corner
# (sqrt(2) units; the heart reaches 1.408, the ellipse 1.2). Centres stay this far from the
# border, so no rotation pushes a shape off the canvas.
_MARGIN = _UNIT * np.sqrt(2.0)
# Pixels per rendered chunk: the float32 temporaries (2 MiB each) stay in cache, which makes
# rendering 4x faster than one pass over a batch of 512 at 64 px, and a 10k-image metric
# batch costs no more memory than a small one.
_CHUNK_PIXELS = 1 << 19

TRAIN_TEST_SEED = 0
DEFAULT_NUM_TEST = 10_000


def factors_from_indices(indices_N: np.ndarray) -> np.ndarray:
  """Factor indices [N, 5] int32 of flat image indices [N] (mixed radix, pos_y fastest)."""
  indices_N = np.asarray(indices_N, dtype=np.int64)
  if indices_N.size and (indices_N.min() < 0 or indices_N.max() >= NUM_IMAGES):
    raise DataError(f"sprites image indices must lie in [0, {NUM_IMAGES}); got "
                    f"[{indices_N.min()}, {indices_N.max()}]")
  return ((indices_N[:, None] // _STRIDES) % np.asarray(factor_sizes)).astype(np.int32)


def indices_from_factors(factors_NK: np.ndarray) -> np.ndarray:
  """Flat image indices [N] int64 of factor indices [N, 5] (the inverse of factors_from_indices).

  Args:
    factors_NK: integer factor indices, column k in [0, factor_sizes[k]).

  Returns:
    The flat index of each row, usable with a full-grid source or `render`.
  """
  factors_NK = np.asarray(factors_NK)
  _check_factors(factors_NK)
  return factors_NK.astype(np.int64) @ _STRIDES


def factor_values(factors_NK: np.ndarray) -> np.ndarray:
  """Factor values [N, 5] float32: shape as 1, 2, 3 (as dSprites), scale, radians, pos x, y."""
  f = np.asarray(factors_NK)
  return np.stack([f[:, 0] + 1.0, SCALES[f[:, 1]], ORIENTATIONS[f[:, 2]],
                   POSITIONS[f[:, 3]], POSITIONS[f[:, 4]]], axis=1).astype(np.float32)


def render(factors_NK: np.ndarray, resolution: int = 64) -> np.ndarray:
  """Binary images [N, res, res, 1] float32 (0 or 1) of the given factor indices.

  Vectorised: each chunk of images is a handful of numpy operations over [n, res, res].

  Args:
    factors_NK: integer factor indices [N, 5] (shape, scale, orientation, pos_x, pos_y).
    resolution: image side in pixels.

  Returns:
    The images, pixel on where its centre lies inside the shape.
  """
  factors_NK = np.asarray(factors_NK)
  _check_factors(factors_NK)
  out_NHW1 = np.zeros((len(factors_NK), resolution, resolution, 1), np.float32)
  chunk_size = max(1, _CHUNK_PIXELS // (resolution * resolution))
  for start in range(0, len(factors_NK), chunk_size):
    chunk = factors_NK[start:start + chunk_size]
    out_NHW1[start:start + len(chunk), :, :, 0] = _render_chunk(chunk, resolution)
  return out_NHW1


def records(factors_NK: np.ndarray, resolution: int = 64) -> dict[str, np.ndarray]:
  """Full records (x, factors, factor_values) for the given factor indices."""
  factors_NK = np.asarray(factors_NK, dtype=np.int32)
  return {"x": render(factors_NK, resolution), "factors": factors_NK,
          "factor_values": factor_values(factors_NK)}


def _check_factors(factors_NK: np.ndarray) -> None:
  if factors_NK.ndim != 2 or factors_NK.shape[1] != len(factor_sizes):
    raise DataError(f"sprites factors must have shape [N, {len(factor_sizes)}]; got "
                    f"{factors_NK.shape}")
  if not np.issubdtype(factors_NK.dtype, np.integer):
    raise DataError(f"sprites factors must be integer indices; got {factors_NK.dtype}")
  if factors_NK.size and ((factors_NK < 0).any() or (factors_NK >= factor_sizes).any()):
    raise DataError(f"sprites factor indices out of range: column k must lie in "
                    f"[0, {factor_sizes}[k])")


def _render_chunk(factors_NK: np.ndarray, res: int) -> np.ndarray:
  """Boolean masks [n, res, res]; pixel-centre coordinates in the shape's unit frame."""
  size_N = (_UNIT * SCALES[factors_NK[:, 1]]).astype(np.float32)
  theta_N = ORIENTATIONS[factors_NK[:, 2]]
  cos_N, sin_N = np.cos(theta_N).astype(np.float32), np.sin(theta_N).astype(np.float32)
  centre_span = 1.0 - 2.0 * _MARGIN
  cx_N = (_MARGIN + centre_span * POSITIONS[factors_NK[:, 3]]).astype(np.float32)
  cy_N = (_MARGIN + centre_span * POSITIONS[factors_NK[:, 4]]).astype(np.float32)
  grid = ((np.arange(res) + 0.5) / res).astype(np.float32)
  dx_NW = (grid[None, :] - cx_N[:, None]) / size_N[:, None]
  dy_NH = (cy_N[:, None] - grid[None, :]) / size_N[:, None]  # up is positive
  # The rotation is separable: u = cos*dx + sin*dy, v = cos*dy - sin*dx, each an outer sum of
  # a per-column and a per-row vector, so each costs one add per pixel.
  cdx_NW, sdx_NW = cos_N[:, None] * dx_NW, sin_N[:, None] * dx_NW
  cdy_NH, sdy_NH = cos_N[:, None] * dy_NH, sin_N[:, None] * dy_NH
  mask_NHW = np.zeros((len(factors_NK), res, res), bool)
  for shape, inside in ((SQUARE, _inside_square), (ELLIPSE, _inside_ellipse),
                        (HEART, _inside_heart)):
    sel = np.flatnonzero(factors_NK[:, 0] == shape)
    if sel.size == 0:
      continue
    u_nHW = cdx_NW[sel, None, :] + sdy_NH[sel, :, None]
    v_nHW = cdy_NH[sel, :, None] - sdx_NW[sel, None, :]
    mask_NHW[sel] = inside(u_nHW, v_nHW)
  return mask_NHW


def _inside_square(u, v):
  return np.maximum(np.abs(u), np.abs(v)) <= 1.0


def _inside_ellipse(u, v):
  u *= 1.0 / _ELLIPSE_SEMI_MAJOR
  v *= 1.0 / _ELLIPSE_SEMI_MINOR
  return u * u + v * v <= 1.0


def _inside_heart(u, v):
  x = u * _HEART_SCALE
  y = v * _HEART_SCALE + _HEART_Y_CENTRE
  x *= x
  q = x + y * y - 1.0
  return q * q * q <= x * (y * y * y)


@dataclasses.dataclass(frozen=True)
class SpritesSource:
  """A split of the sprites grid: position i of the split is image `image_indices[i]`."""

  info: DatasetInfo
  resolution: int
  image_indices: np.ndarray

  def __len__(self) -> int:
    return len(self.image_indices)

  def get_batch(self, indices_N: np.ndarray) -> dict[str, np.ndarray]:
    return records(factors_from_indices(self.image_indices[indices_N]), self.resolution)

  def get_by_factors(self, factors_NK: np.ndarray) -> dict[str, np.ndarray]:
    """Any cell of the full grid, rendered (FactorSource): the split does not limit it."""
    return records(np.asarray(factors_NK), self.resolution)


def split_indices(split: str, num_train: int = 0, num_test: int = 0) -> np.ndarray:
  """Flat image indices of a split: a fixed permutation's first `num_test` are the test set.

  Args:
    split: 'train' or 'test'.
    num_train: > 0 keeps only the first `num_train` training images.
    num_test: test-set size; 0 means 10,000.

  Returns:
    int64 image indices, in the permutation's (random) order.
  """
  num_test = num_test or DEFAULT_NUM_TEST
  if num_test >= NUM_IMAGES:
    raise DataError(f"data.num_test={num_test} leaves no sprites for training; use fewer than "
                    f"{NUM_IMAGES}")
  perm = np.random.default_rng(TRAIN_TEST_SEED).permutation(NUM_IMAGES)
  if split == "test":
    return perm[:num_test]
  if split == "train":
    train = perm[num_test:]
    if num_train > len(train):
      raise DataError(f"data.num_train={num_train} exceeds the {len(train)} sprites training "
                      "images; lower data.num_train (0 = all)")
    return train[:num_train] if num_train > 0 else train
  raise DataError(f"unknown split '{split}'; use 'train' or 'test'")


def load(data_cfg, split: str) -> SpritesSource:
  """The sprites split named by `split`, rendered at `data_cfg.resolution` pixels.

  Args:
    data_cfg: the config's `data` section (uses resolution, num_train, num_test).
    split: 'train' or 'test'.

  Returns:
    A source whose records hold x [res, res, 1], factors [5] and factor_values [5].
  """
  res = int(data_cfg.resolution)
  if res < 8:
    raise DataError(f"data.resolution={res} is too small for sprites; use 16, 32 or 64")
  info = DatasetInfo(name="sprites", x_shape=(res, res, 1), kind="image", binary=True,
                     factor_names=FACTOR_NAMES, factor_sizes=factor_sizes,
                     categorical_factors=("shape",))
  indices = split_indices(split, int(data_cfg.num_train), int(data_cfg.num_test))
  return SpritesSource(info=info, resolution=res, image_indices=indices)
