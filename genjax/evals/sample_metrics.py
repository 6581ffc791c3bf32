"""Pure numpy statistics comparing generated samples with data: distances, P/R, FD, copying.

Every function takes feature matrices (one row per example) and nothing from JAX, so the
evaluators (`quality.py`, `memorisation.py`) and the tests call the same code.

- precision / recall: Kynkaanniemi et al. 2019, "Improved precision and recall metric for
  assessing generative models": each set's manifold is the union of balls around its
  points with radius the distance to the point's k-th nearest neighbour in its own set
  (k = 3 in the paper); precision is the share of generated points inside the real
  manifold, recall the share of real points inside the generated one.
- Frechet distance between Gaussians fitted to two feature sets (Heusel et al. 2017).
- the data-copying statistic C_T of Meehan, Chaudhuri & Dasgupta 2020, "A non-parametric
  test to detect data-copying in generative models".
"""
from __future__ import annotations

import numpy as np

# Pairwise distances are computed a block of query rows at a time: a block of 1024 rows
# against 10,000 references is 40 MB of float32, whatever the sizes of the sets.
_BLOCK = 1024


def pairwise_sq_distances(a_NF: np.ndarray, b_MF: np.ndarray) -> np.ndarray:
  """Squared Euclidean distances [N, M], clipped at 0 against rounding."""
  a_NF = np.asarray(a_NF, np.float32)
  b_MF = np.asarray(b_MF, np.float32)
  sq_NM = (a_NF**2).sum(1)[:, None] + (b_MF**2).sum(1)[None, :] - 2.0 * a_NF @ b_MF.T
  return np.maximum(sq_NM, 0.0)


def nearest_neighbours(query_QF: np.ndarray, ref_RF: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Distance [Q] float64 and index [Q] int64 of each query's nearest reference point."""
  dist, index = [], []
  for start in range(0, len(query_QF), _BLOCK):
    sq_BR = pairwise_sq_distances(query_QF[start:start + _BLOCK], ref_RF)
    nearest = sq_BR.argmin(1)
    index.append(nearest)
    dist.append(np.sqrt(sq_BR[np.arange(len(nearest)), nearest].astype(np.float64)))
  return np.concatenate(dist), np.concatenate(index)


def knn_radii(x_NF: np.ndarray, k: int) -> np.ndarray:
  """Distance [N] from each point to its k-th nearest *other* point of the same set."""
  if not 0 < k < len(x_NF):
    raise ValueError(f"k={k} must lie in [1, {len(x_NF) - 1}] for a set of {len(x_NF)} points")
  radii = []
  for start in range(0, len(x_NF), _BLOCK):
    sq_BN = pairwise_sq_distances(x_NF[start:start + _BLOCK], x_NF)
    # Position 0 of the sorted row is the point itself (distance 0), so the k-th neighbour
    # sits at position k.
    radii.append(np.sqrt(np.partition(sq_BN, k, axis=1)[:, k].astype(np.float64)))
  return np.concatenate(radii)


def manifold_coverage(query_QF: np.ndarray, support_SF: np.ndarray, radii_S: np.ndarray) -> float:
  """Share of query points inside at least one ball (support point, its radius)."""
  sq_radii = (radii_S**2)[None, :]
  inside = [(pairwise_sq_distances(query_QF[start:start + _BLOCK], support_SF) <= sq_radii).any(1)
            for start in range(0, len(query_QF), _BLOCK)]
  return float(np.concatenate(inside).mean())


def precision_recall(real_NF: np.ndarray, fake_MF: np.ndarray, k: int = 3) -> tuple[float, float]:
  """Improved precision and recall (Kynkaanniemi et al. 2019) with k-NN manifolds.

  Args:
    real_NF: real examples' features.
    fake_MF: generated examples' features, in the same space.
    k: the neighbour whose distance sets each ball's radius (3 in the paper).

  Returns:
    (precision, recall), each in [0, 1].
  """
  precision = manifold_coverage(fake_MF, real_NF, knn_radii(real_NF, k))
  recall = manifold_coverage(real_NF, fake_MF, knn_radii(fake_MF, k))
  return precision, recall


def gaussian_statistics(x_NF: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean [F] and covariance [F, F] (unbiased) in float64."""
  x_NF = np.asarray(x_NF, np.float64)
  return x_NF.mean(0), np.atleast_2d(np.cov(x_NF, rowvar=False))


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
  """Squared Frechet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2).

  ||mu1 - mu2||^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2)).

  The trace of (cov1 cov2)^(1/2) is taken as that of (s1 cov2 s1)^(1/2), s1 = cov1^(1/2):
  the same eigenvalues, but of a symmetric positive semi-definite matrix. scipy's
  `linalg.sqrtm(cov1 @ cov2)` (the usual FID code) warns and loses accuracy when the
  covariances are singular, as they are whenever there are fewer samples than features
  (raw 64x64 pixels); the symmetric form stays exact there.

  Args:
    mu1, mu2: means [F].
    cov1, cov2: covariances [F, F], symmetric positive semi-definite.

  Returns:
    The distance (0 for identical statistics, up to rounding).
  """
  diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
  cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
  s1 = _psd_sqrt(cov1)
  eig = np.linalg.eigvalsh(s1 @ cov2 @ s1)
  trace_sqrt = np.sqrt(np.clip(eig, 0.0, None)).sum()
  return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt)


def _psd_sqrt(cov_FF: np.ndarray) -> np.ndarray:
  """The symmetric square root of a PSD matrix; rounding's tiny negative eigenvalues -> 0."""
  eig, vec = np.linalg.eigh((cov_FF + cov_FF.T) / 2)
  return (vec * np.sqrt(np.clip(eig, 0.0, None))) @ vec.T


def cell_assignments(train_NF: np.ndarray, *others: np.ndarray, num_cells: int,
                     seed: int = 0) -> list[np.ndarray]:
  """k-means cells fitted on the training points; the cell [.] of train and of each other set."""
  from sklearn.cluster import KMeans  # pylint: disable=g-import-not-at-top  # slow import
  import threadpoolctl  # pylint: disable=g-import-not-at-top  # comes with scikit-learn
  kmeans = KMeans(n_clusters=num_cells, n_init=3, random_state=seed)
  # One thread: OpenMP k-means on cores shared with other jobs spins and ran 9x slower
  # (10,000 x 256 points, 20 cells: 21 s on 2 busy cores, 2.5 s on one thread).
  with threadpoolctl.threadpool_limits(1):
    train_cells = kmeans.fit_predict(np.asarray(train_NF, np.float64))
    return [train_cells] + [kmeans.predict(np.asarray(x, np.float64)) for x in others]


def mann_whitney_z(fake_M: np.ndarray, heldout_L: np.ndarray) -> float:
  """Z-scored Mann-Whitney U of fake vs held-out values; < 0 when fake values are smaller."""
  from scipy import stats  # pylint: disable=g-import-not-at-top  # 1 s at import: only here
  m, n = len(fake_M), len(heldout_L)
  u = stats.mannwhitneyu(fake_M, heldout_L, alternative="two-sided").statistic
  return float((u - m * n / 2.0) / np.sqrt(m * n * (m + n + 1) / 12.0))


def data_copying_statistic(heldout_dist_L: np.ndarray, heldout_cell_L: np.ndarray,
                           fake_dist_M: np.ndarray, fake_cell_M: np.ndarray, num_cells: int,
                           tau: float) -> tuple[float, int]:
  """C_T of Meehan et al. 2020 from nearest-training-neighbour distances and cells.

  In each cell the Mann-Whitney U of generated vs held-out distances is Z-scored; C_T
  averages these Z over the cells holding more than a share `tau` of the generated
  samples, weighted by each cell's share of the held-out points. Copies of training
  points lie closer to the training set than fresh data does: C_T << 0 means copying,
  C_T near 0 that samples are as far from the training set as held-out data,
  C_T >> 0 underfitting.

  Args:
    heldout_dist_L: held-out points' distances to their nearest training point.
    heldout_cell_L: their cells.
    fake_dist_M: generated points' distances to their nearest training point.
    fake_cell_M: their cells.
    num_cells: number of cells.
    tau: minimum generated share for a cell to count.

  Returns:
    (C_T, number of cells used); C_T is NaN when no cell qualifies.
  """
  z_sum, weight_sum, used = 0.0, 0.0, 0
  for cell in range(num_cells):
    fake = fake_dist_M[fake_cell_M == cell]
    held = heldout_dist_L[heldout_cell_L == cell]
    if len(fake) <= tau * len(fake_dist_M) or len(fake) == 0 or len(held) == 0:
      continue
    weight = len(held) / len(heldout_dist_L)
    z_sum += weight * mann_whitney_z(fake, held)
    weight_sum += weight
    used += 1
  return (z_sum / weight_sum if used else float("nan")), used
