"""2D toy distributions for mode-collapse and density studies: two mixtures with exact densities.

`ring8`: 8 equal-weight isotropic Gaussians on a circle of radius 1, std 0.01; `grid25`: 25
on {-4, -2, 0, 2, 4}^2, std 0.05 (PacGAN's settings, Lin et al. 2018; VEEGAN used radius 2,
std 0.02). `moons` and `swissroll` come from scikit-learn's generators (swiss roll projected
on its (x, z) plane), centred and divided by one isotropic scale so that the average per-axis
variance is about 1 while the shape keeps its aspect. Sample sets are fixed: train (100,000
points by default) from seed 0, test (10,000) from seed 1.
"""
from __future__ import annotations

import numpy as np
from scipy import special

from genjax.core.dataset import DatasetInfo
from genjax.data.base import ArraySource
from genjax.errors import DataError

TOYS = ("ring8", "grid25", "moons", "swissroll")
MIXTURES = ("ring8", "grid25")
DEFAULT_NUM_TRAIN = 100_000
DEFAULT_NUM_TEST = 10_000
SEEDS = {"train": 0, "test": 1}

# Noise (in the generator's own units) and the affine map to about unit variance: centre and
# scale measured once on 10^6 samples (moons std (0.867, 0.497); swiss roll (6.63, 6.95)).
_MOONS_NOISE, _MOONS_CENTRE, _MOONS_SCALE = 0.05, (0.5, 0.25), 0.707
_ROLL_NOISE, _ROLL_CENTRE, _ROLL_SCALE = 0.25, (2.0, 0.21), 6.8


def mixture(toy: str) -> tuple[np.ndarray, float]:
  """Means [K, 2] float64 and the shared isotropic std of an equal-weight Gaussian mixture.

  Args:
    toy: 'ring8' or 'grid25'.

  Returns:
    (means_K2, std).
  """
  if toy == "ring8":
    angle_K = 2 * np.pi * np.arange(8) / 8
    return np.stack([np.cos(angle_K), np.sin(angle_K)], axis=1), 0.01
  if toy == "grid25":
    ticks = np.arange(-4.0, 5.0, 2.0)
    gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel()], axis=1), 0.05
  _check_toy(toy)
  raise DataError(f"data.toy='{toy}' has no closed-form density; exact densities exist for "
                  f"{', '.join(MIXTURES)}")


def log_density(toy: str, x_N2: np.ndarray) -> np.ndarray:
  """Exact log-density [N] float64 of points under a mixture toy.

  log p(x) = logsumexp_k [log N(x; mu_k, std^2 I)] - log K.

  Args:
    toy: 'ring8' or 'grid25' (moons and swissroll raise DataError: no closed form).
    x_N2: points [N, 2].

  Returns:
    The natural-log density of each point.
  """
  means_K2, std = mixture(toy)
  x_N2 = np.asarray(x_N2, dtype=np.float64)
  if x_N2.ndim != 2 or x_N2.shape[1] != 2:
    raise DataError(f"toy2d points must have shape [N, 2]; got {x_N2.shape}")
  sq_NK = ((x_N2[:, None, :] - means_K2[None]) ** 2).sum(-1)
  log_norm = -np.log(2 * np.pi * std**2)  # 2D isotropic Gaussian: -(D/2) log(2 pi std^2)
  return special.logsumexp(-0.5 * sq_NK / std**2 + log_norm, axis=1) - np.log(len(means_K2))


def sample(toy: str, num: int, seed: int) -> dict[str, np.ndarray]:
  """`num` points of `toy` from `seed`: {'x': [num, 2] float32, 'label': [num] int32 (not swissroll)}.

  Mixture labels are the component, moons labels the moon (0 upper, 1 lower).
  """
  _check_toy(toy)
  if toy in MIXTURES:
    means_K2, std = mixture(toy)
    rng = np.random.default_rng(seed)
    label_N = rng.integers(len(means_K2), size=num)
    x_N2 = means_K2[label_N] + std * rng.standard_normal((num, 2))
    return {"x": x_N2.astype(np.float32), "label": label_N.astype(np.int32)}
  from sklearn import datasets  # sklearn's import costs ~1 s; pay it on use
  if toy == "moons":
    x_N2, label_N = datasets.make_moons(num, noise=_MOONS_NOISE, random_state=seed)
    x_N2 = (x_N2 - _MOONS_CENTRE) / _MOONS_SCALE
    return {"x": x_N2.astype(np.float32), "label": label_N.astype(np.int32)}
  x_N3, _ = datasets.make_swiss_roll(num, noise=_ROLL_NOISE, random_state=seed)
  x_N2 = (x_N3[:, [0, 2]] - _ROLL_CENTRE) / _ROLL_SCALE
  return {"x": x_N2.astype(np.float32)}


def num_classes(toy: str) -> int:
  """Number of label values of `toy` (0: unlabelled)."""
  _check_toy(toy)
  return {"ring8": 8, "grid25": 25, "moons": 2, "swissroll": 0}[toy]


def load(data_cfg, split: str) -> ArraySource:
  """The fixed sample set of `data_cfg.toy` for `split`.

  Args:
    data_cfg: the config's `data` section (uses toy, num_train, num_test).
    split: 'train' (seed 0) or 'test' (seed 1).

  Returns:
    An in-memory source of x [2] float32 (and label int32 where the toy has classes).
  """
  toy = str(data_cfg.toy)
  _check_toy(toy)
  if split not in SEEDS:
    raise DataError(f"unknown split '{split}'; use 'train' or 'test'")
  if split == "train":
    num = int(data_cfg.num_train) or DEFAULT_NUM_TRAIN
  else:
    num = int(data_cfg.num_test) or DEFAULT_NUM_TEST
  info = DatasetInfo(name="toy2d", x_shape=(2,), kind="vector", binary=False,
                     num_classes=num_classes(toy))
  return ArraySource(info=info, arrays=sample(toy, num, SEEDS[split]))


def _check_toy(toy: str) -> None:
  if toy not in TOYS:
    raise DataError(f"unknown data.toy='{toy}'; choose one of {', '.join(TOYS)}")
