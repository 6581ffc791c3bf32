"""Disentanglement metrics over codes and ground-truth factors: BetaVAE, FactorVAE, MIG, DCI, SAP.

Pure numpy / scikit-learn functions, seeded and deterministic; our own implementations of
the published definitions, following the protocol of disentanglement_lib (Locatello et al.
2019): 10,000 training and 5,000 evaluation points unless the caller passes fewer.
Factor samplers draw factor *indices* uniformly from the full grid `factor_sizes`; the
caller turns them into codes (render + encode), so every metric here sees arrays only.

Pinned choices (they move the numbers; change them only with a note):
- BetaVAE (Higgins et al. 2017): a point is `batch_size` pairs sharing one factor; its
  feature is mean_b |z1 - z2|; sklearn LogisticRegression (lbfgs, max_iter 1000, seed);
  score = accuracy on the evaluation points.
- FactorVAE (Kim & Mnih 2018): codes divided by their std over a random sample; dims whose
  (unnormalised) variance is below `prune_threshold` = 0.05 are collapsed and never vote
  (disentanglement_lib uses 0; 0.05 also drops the near-constant posterior means of dims a
  VAE has switched off); a vote is the active dim of least variance within a batch with
  one factor fixed (variance with ddof 1); majority-vote classifier; score = accuracy on
  the evaluation votes; 0 when every dim is collapsed.
- MIG (Chen et al. 2018): each code dim cut into 20 equal-width bins between its min and
  max (np.histogram edges); I(code bin; factor) from sklearn.metrics.mutual_info_score,
  the plug-in (maximum-likelihood, no bias correction) estimate from the contingency
  table in nats; normalised by the factor's plug-in entropy. `plugin_mutual_info` is the
  same estimate written out, and a test checks sklearn against it so a change in
  scikit-learn's routine cannot drift the numbers unnoticed.
- DCI (Eastwood & Williams 2018): importance R[d, k] = impurity importances of a
  RandomForestClassifier per factor (factor indices as classes; 20 trees, all dims tried at
  every split, leaves of at least 0.5% of the training points, seed) -- not
  disentanglement_lib's gradient-boosted trees, which cost minutes per factor on a CPU.
  The leaf floor matters: grown to purity, the trees carve noise out of a VAE's collapsed
  dims and impurity importance credits them with it (on a beta = 4 sprites VAE, leaves of
  one point gave D = 0.05, leaves of 50 of 10,000 points D = 0.17).
  Disentanglement = sum_d rho_d (1 - H_K(P_d.)), completeness = sum_k w_k (1 - H_D(P_.k))
  with rho, w the importance shares (as disentanglement_lib weights both); informativeness
  = mean held-out accuracy of the forests.
- SAP (Kumar et al. 2018): S[d, k] = R^2 of a linear fit of factor k's index on code dim d
  alone (the squared correlation, the paper's rule for continuous factors) on the
  training points; score = mean over factors of the gap between the two largest S[., k].
"""
from __future__ import annotations

import numpy as np

# scikit-learn is imported inside the functions that use it: its import costs about a
# second, which every genjax command would otherwise pay through the evaluator registry.

NUM_TRAIN, NUM_EVAL = 10_000, 5_000
MIG_BINS = 20
PRUNE_THRESHOLD = 0.05


# ---- factor samplers -------------------------------------------------------------------------

def sample_factors(rng: np.random.Generator, factor_sizes, num: int) -> np.ndarray:
  """Factor indices [num, K] int32, each factor uniform over its values."""
  return np.stack([rng.integers(0, s, num) for s in factor_sizes], axis=1).astype(np.int32)


def fixed_factor_pairs(rng: np.random.Generator, factor_sizes, num_points: int,
                       batch_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """BetaVAE points: (f1 [P, B, K], f2 [P, B, K], k [P]) where f2 shares factor k with f1."""
  k_P = rng.integers(0, len(factor_sizes), num_points)
  f1_PBK = sample_factors(rng, factor_sizes, num_points * batch_size).reshape(
      num_points, batch_size, -1)
  f2_PBK = sample_factors(rng, factor_sizes, num_points * batch_size).reshape(
      num_points, batch_size, -1)
  rows = np.arange(num_points)
  f2_PBK[rows, :, k_P] = f1_PBK[rows, :, k_P]
  return f1_PBK, f2_PBK, k_P.astype(np.int32)


def fixed_factor_batches(rng: np.random.Generator, factor_sizes, num_votes: int,
                         batch_size: int) -> tuple[np.ndarray, np.ndarray]:
  """FactorVAE votes: (factors [V, B, K], k [V]); within a batch factor k takes one value."""
  k_V = rng.integers(0, len(factor_sizes), num_votes)
  f_VBK = sample_factors(rng, factor_sizes, num_votes * batch_size).reshape(
      num_votes, batch_size, -1)
  rows = np.arange(num_votes)
  f_VBK[rows, :, k_V] = f_VBK[rows, :1, k_V]
  return f_VBK, k_V.astype(np.int32)


# ---- BetaVAE and FactorVAE ---------------------------------------------------------------------

def betavae_score(z1_PBD: np.ndarray, z2_PBD: np.ndarray, k_P: np.ndarray, num_train: int,
                  seed: int = 0) -> dict[str, float]:
  """Higgins et al.'s score: which factor was fixed, read linearly from mean |z1 - z2|.

  Args:
    z1_PBD, z2_PBD: codes of the pairs of each point (first `num_train` points train).
    k_P: the fixed factor of each point.
    num_train: points used to fit the classifier; the rest score it.
    seed: the classifier's seed.

  Returns:
    betavae_train_accuracy and betavae_score (held-out accuracy).
  """
  from sklearn import linear_model  # pylint: disable=g-import-not-at-top
  feat_PD = np.mean(np.abs(np.asarray(z1_PBD, np.float64) - z2_PBD), axis=1)
  clf = linear_model.LogisticRegression(max_iter=1000, random_state=seed)
  clf.fit(feat_PD[:num_train], k_P[:num_train])
  return {"betavae_train_accuracy": float(clf.score(feat_PD[:num_train], k_P[:num_train])),
          "betavae_score": float(clf.score(feat_PD[num_train:], k_P[num_train:]))}


def factorvae_score(z_VBD: np.ndarray, k_V: np.ndarray, variances_D: np.ndarray, num_train: int,
                    num_factors: int, prune_threshold: float = PRUNE_THRESHOLD) -> dict[str, float]:
  """Kim & Mnih's score: the least-varying normalised dim votes for the fixed factor.

  Args:
    z_VBD: codes of each vote's batch (first `num_train` votes train the classifier).
    k_V: the fixed factor of each vote.
    variances_D: each code dim's variance over a random sample of the data.
    num_train: votes that fit the majority-vote classifier; the rest score it.
    num_factors: K.
    prune_threshold: dims with variance below it are collapsed and never vote.

  Returns:
    factorvae_train_accuracy, factorvae_score (held-out) and factorvae_active_dims.
  """
  active_D = np.asarray(variances_D) > prune_threshold
  num_active = int(active_D.sum())
  if num_active == 0:
    return {"factorvae_train_accuracy": 0.0, "factorvae_score": 0.0, "factorvae_active_dims": 0}
  z_VBA = np.asarray(z_VBD, np.float64)[..., active_D] / np.sqrt(variances_D[active_D])
  vote_V = np.argmin(np.var(z_VBA, axis=1, ddof=1), axis=1)
  counts_AK = np.zeros((num_active, num_factors), np.int64)
  np.add.at(counts_AK, (vote_V[:num_train], k_V[:num_train]), 1)
  predict_A = np.argmax(counts_AK, axis=1)
  train_acc = counts_AK.max(axis=1).sum() / max(num_train, 1)
  held = predict_A[vote_V[num_train:]] == k_V[num_train:]
  return {"factorvae_train_accuracy": float(train_acc),
          "factorvae_score": float(held.mean()) if held.size else 0.0,
          "factorvae_active_dims": num_active}


# ---- MIG -----------------------------------------------------------------------------------------

def top_two_gap(score_DK: np.ndarray) -> np.ndarray:
  """Per column [K]: the largest score over code dims minus the second largest (0 if one dim)."""
  top_DK = np.sort(score_DK, axis=0)[::-1]
  return top_DK[0] - (top_DK[1] if len(top_DK) > 1 else 0.0)


def discretize(z_ND: np.ndarray, num_bins: int = MIG_BINS) -> np.ndarray:
  """Bin indices [N, D] in [0, num_bins): equal-width bins between each dim's min and max."""
  out_ND = np.zeros(z_ND.shape, np.int64)
  for d in range(z_ND.shape[1]):
    edges = np.histogram(z_ND[:, d], bins=num_bins)[1]
    # The inner edges only, so the maximum falls in the last bin rather than past it.
    out_ND[:, d] = np.digitize(z_ND[:, d], edges[1:-1])
  return out_ND


def plugin_mutual_info(a_N: np.ndarray, b_N: np.ndarray) -> float:
  """The plug-in estimate of I(a; b) in nats from the empirical joint of two discrete arrays."""
  _, ia = np.unique(a_N, return_inverse=True)
  _, ib = np.unique(b_N, return_inverse=True)
  joint = np.zeros((ia.max() + 1, ib.max() + 1))
  np.add.at(joint, (ia, ib), 1.0)
  joint /= joint.sum()
  outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
  nz = joint > 0
  return float(np.sum(joint[nz] * np.log(joint[nz] / outer[nz])))


def mutual_info_matrix(codes_ND: np.ndarray, factors_NK: np.ndarray) -> np.ndarray:
  """[D, K] plug-in mutual information (nats) between discrete codes and factors."""
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  return np.array([[metrics.mutual_info_score(factors_NK[:, k], codes_ND[:, d])
                    for k in range(factors_NK.shape[1])] for d in range(codes_ND.shape[1])])


def mig(z_ND: np.ndarray, factors_NK: np.ndarray, num_bins: int = MIG_BINS) -> dict[str, float]:
  """Mutual information gap: per factor, (top - second) MI over code dims / H(factor), averaged.

  Args:
    z_ND: codes of random samples.
    factors_NK: their factor indices.
    num_bins: histogram bins per code dim.

  Returns:
    mig and mig_<k> per factor (k its column).
  """
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  mi_DK = mutual_info_matrix(discretize(z_ND, num_bins), factors_NK)
  entropy_K = np.array([metrics.mutual_info_score(f, f) for f in factors_NK.T])
  gap_K = top_two_gap(mi_DK) / np.maximum(entropy_K, 1e-12)
  out = {"mig": float(gap_K.mean())}
  out.update({f"mig_{k}": float(g) for k, g in enumerate(gap_K)})
  return out


# ---- DCI -----------------------------------------------------------------------------------------

def importance_matrix(z_train_ND, f_train_NK, z_test_MD, f_test_MK, seed: int = 0,
                      num_trees: int = 20, min_leaf_share: float = 0.005):
  """R [D, K] from one random forest per factor, and each forest's held-out accuracy [K]."""
  from sklearn import ensemble  # pylint: disable=g-import-not-at-top
  num_dims, num_factors = z_train_ND.shape[1], f_train_NK.shape[1]
  r_DK, acc_K = np.zeros((num_dims, num_factors)), np.zeros(num_factors)
  for k in range(num_factors):
    # max_features=None: every split sees every dim, so a dim that alone predicts the
    # factor takes all the importance instead of sharing it with dims drawn in its place.
    forest = ensemble.RandomForestClassifier(
        n_estimators=num_trees, max_features=None, random_state=seed, n_jobs=1,
        min_samples_leaf=max(1, int(min_leaf_share * len(z_train_ND))))
    forest.fit(z_train_ND, f_train_NK[:, k])
    r_DK[:, k] = forest.feature_importances_
    acc_K[k] = forest.score(z_test_MD, f_test_MK[:, k])
  return r_DK, acc_K


def _normalised_entropy(p_RC: np.ndarray) -> np.ndarray:
  """Entropy of each row's distribution, in base C (the number of columns): 0 to 1."""
  p = p_RC / np.maximum(p_RC.sum(axis=1, keepdims=True), 1e-12)
  logs = np.log(np.where(p > 0, p, 1.0))
  return -np.sum(p * logs, axis=1) / np.log(p_RC.shape[1]) if p_RC.shape[1] > 1 else np.zeros(
      len(p_RC))


def dci_from_importance(r_DK: np.ndarray) -> dict[str, float]:
  """Disentanglement and completeness of an importance matrix [D, K] (each weighted by share)."""
  r_DK = np.abs(r_DK)
  total = r_DK.sum()
  if total <= 0:
    return {"dci_disentanglement": 0.0, "dci_completeness": 0.0}
  rho_D = r_DK.sum(axis=1) / total
  w_K = r_DK.sum(axis=0) / total
  return {"dci_disentanglement": float(np.sum(rho_D * (1 - _normalised_entropy(r_DK)))),
          "dci_completeness": float(np.sum(w_K * (1 - _normalised_entropy(r_DK.T))))}


def dci(z_train_ND, f_train_NK, z_test_MD, f_test_MK, seed: int = 0) -> dict[str, float]:
  """Eastwood & Williams' DCI with random-forest importances (see the module docstring)."""
  r_DK, acc_K = importance_matrix(z_train_ND, f_train_NK, z_test_MD, f_test_MK, seed)
  out = dci_from_importance(r_DK)
  out["dci_informativeness"] = float(acc_K.mean())
  return out


# ---- SAP -----------------------------------------------------------------------------------------

def sap(z_ND: np.ndarray, factors_NK: np.ndarray) -> dict[str, float]:
  """Kumar et al.'s separated attribute predictability with single-dim linear R^2 scores.

  Args:
    z_ND: codes of random samples.
    factors_NK: their factor indices.

  Returns:
    sap: mean over factors of the gap between the two most predictive dims' R^2.
  """
  z = np.asarray(z_ND, np.float64)
  f = np.asarray(factors_NK, np.float64)
  zc, fc = z - z.mean(0), f - f.mean(0)
  cov_DK = zc.T @ fc
  # A constant code or factor carries no information: give it R^2 = 0 rather than nan.
  norm_DK = np.sqrt(np.outer((zc**2).sum(0), (fc**2).sum(0)))
  r2_DK = np.where(norm_DK > 0, cov_DK**2 / np.maximum(norm_DK, 1e-300) ** 2, 0.0)
  return {"sap": float(np.mean(top_two_gap(r2_DK)))}


def all_random_sample_metrics(z_ND: np.ndarray, factors_NK: np.ndarray, num_train: int,
                              seed: int = 0, num_bins: int = MIG_BINS) -> dict[str, float]:
  """MIG and SAP on the first `num_train` samples; DCI trained there, scored on the rest."""
  zt, ft = z_ND[:num_train], factors_NK[:num_train]
  out = mig(zt, ft, num_bins)
  out.update(dci(zt, ft, z_ND[num_train:], factors_NK[num_train:], seed))
  out.update(sap(zt, ft))
  return out
