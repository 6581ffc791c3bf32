"""Disentanglement metrics over codes and ground-truth factors, as disentanglement_lib scores them.

Pure numpy / scikit-learn functions, seeded and deterministic: our own implementations of
the published definitions that compute the numbers of disentanglement_lib's
`unsupervised_study_v1` metric configs (Locatello et al. 2019). Factor samplers draw factor
*indices* uniformly from the full grid `factor_sizes`; the caller turns them into codes
(render + encode), so every metric here sees arrays only. Codes are [N, D], factors [N, K].

The protocol (PROTOCOLS['full'] is theirs; the smaller ones are for tests and CPU studies):
- BetaVAE (Higgins et al. 2017): a point is `batch_size` (64) pairs sharing one factor; its
  feature is mean_b |z1 - z2|; scikit-learn's LogisticRegression at its defaults (as they
  call it: lbfgs, max_iter 100 since scikit-learn 0.22; liblinear one-vs-rest before, so
  numbers recomputed with another version drift); score = accuracy on 5,000 held-out points.
- FactorVAE (Kim & Mnih 2018): global variances (ddof 1) from 10,000 codes; a dim is
  active when its *standard deviation* is at least 0.05; a vote is the active dim of least
  local variance (ddof 1) / global variance within a batch of 64 with one factor fixed;
  majority-vote classifier from 10,000 votes, scored on 5,000. (disentanglement_lib reports
  the number of *all* dims as num_active_dims; we report the active ones.)
- MIG (Chen et al. 2018): each code dim cut into 20 equal-width bins between its min and
  max; I(code bin; factor) is the plug-in estimate (sklearn.metrics.mutual_info_score, in
  nats); per factor the gap between the two largest over dims / H(factor); mean over factors.
- DCI (Eastwood & Williams 2018): one GradientBoostingClassifier per factor at scikit-learn's
  defaults (100 stages of depth-3 trees); R[d, k] = |feature importance|; disentanglement
  = sum_d rho_d (1 - H_K(R[d, .] + 1e-11)), completeness = sum_k w_k (1 - H_D(R[., k] +
  1e-11)), with rho, w the row / column shares of R (their normalisation, epsilon included);
  informativeness = test accuracy (train accuracy reported too).
- SAP (Kumar et al. 2018), discrete factors: S[d, k] = held-out accuracy of LinearSVC(C=0.01,
  class_weight='balanced') fit on code dim d alone; score = mean over factors of the gap
  between the two largest S[., k].
- Modularity and explicitness (Ridgeway & Zemel 2018): modularity from the 20-bin MI matrix
  (per dim 1 - (sum_k MI^2 - max MI^2) / (max MI^2 (K - 1)), 0 where max MI is 0; mean over
  dims); explicitness = macro one-vs-rest ROC AUC of a LogisticRegression (defaults) per
  factor on codes standardised by the training mean / std, mean over factors.
- Unsupervised (no factors): from the training codes' covariance (ddof 1) the Gaussian total
  correlation 1/2 (sum log diag - log det) and the Gaussian Wasserstein correlation
  2 tr C - 2 tr (C^1/2 diag(C) C^1/2)^1/2 (and divided by tr C); mutual_info_score = mean
  plug-in MI between pairs of distinct 20-bin discretised dims.
The independent per-factor fits (DCI, SAP, explicitness) run through joblib (`n_jobs`);
every fit is seeded, so the numbers do not depend on n_jobs.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

# scikit-learn is imported inside the functions that use it: its import costs about a
# second, which every genjax command would otherwise pay through the evaluator registry.

NUM_TRAIN, NUM_EVAL = 10_000, 5_000
MIG_BINS = 20
PRUNE_THRESHOLD = 0.05  # on the standard deviation, as disentanglement_lib's prune_dims

# Sizes of each protocol. `full` is disentanglement_lib's unsupervised_study_v1; `cpu` fits a
# study on two CPU cores (a few per cent of sampling noise per score); `tiny` is for tests.
PROTOCOLS = {
    "full": dict(num_train=10_000, num_eval=5_000, num_bins=20,
                 betavae_num_train=10_000, betavae_num_eval=5_000, betavae_batch_size=64,
                 factorvae_num_train=10_000, factorvae_num_eval=5_000,
                 factorvae_batch_size=64, factorvae_num_variance=10_000),
    "cpu": dict(num_train=2_000, num_eval=1_000, num_bins=20,
                betavae_num_train=1_000, betavae_num_eval=500, betavae_batch_size=64,
                factorvae_num_train=1_000, factorvae_num_eval=500,
                factorvae_batch_size=64, factorvae_num_variance=2_000),
    "tiny": dict(num_train=500, num_eval=250, num_bins=20,
                 betavae_num_train=100, betavae_num_eval=50, betavae_batch_size=16,
                 factorvae_num_train=100, factorvae_num_eval=50,
                 factorvae_batch_size=16, factorvae_num_variance=500),
}


def sklearn_version() -> str:
  import sklearn  # pylint: disable=g-import-not-at-top
  return sklearn.__version__


def _parallel(fn, items, n_jobs: int):
  """[fn(i) for i in items], through joblib threads when n_jobs != 1 (results in order).

  Threads, not processes: the fits spend their time in scikit-learn's compiled code, which
  releases the GIL, and threads neither copy the codes nor start interpreters (seconds each).
  """
  if n_jobs == 1:
    return [fn(i) for i in items]
  import joblib  # pylint: disable=g-import-not-at-top
  return joblib.Parallel(n_jobs=n_jobs, prefer="threads")(joblib.delayed(fn)(i) for i in items)


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
  clf = linear_model.LogisticRegression(random_state=seed)  # their call: the defaults
  clf.fit(feat_PD[:num_train], k_P[:num_train])
  return {"betavae_train_accuracy": float(clf.score(feat_PD[:num_train], k_P[:num_train])),
          "betavae_score": float(clf.score(feat_PD[num_train:], k_P[num_train:]))}


def global_variances(z_ND: np.ndarray) -> np.ndarray:
  """Each code dim's variance [D] over a sample of the data (ddof 1, as the protocol)."""
  return np.var(np.asarray(z_ND, np.float64), axis=0, ddof=1)


def factorvae_score(z_VBD: np.ndarray, k_V: np.ndarray, variances_D: np.ndarray, num_train: int,
                    num_factors: int, prune_threshold: float = PRUNE_THRESHOLD) -> dict[str, float]:
  """Kim & Mnih's score: the least-varying normalised dim votes for the fixed factor.

  Args:
    z_VBD: codes of each vote's batch (first `num_train` votes train the classifier).
    k_V: the fixed factor of each vote.
    variances_D: each code dim's global variance (`global_variances`).
    num_train: votes that fit the majority-vote classifier; the rest score it.
    num_factors: K.
    prune_threshold: dims whose standard deviation is below it are collapsed, never vote.

  Returns:
    factorvae_train_accuracy, factorvae_score (held-out) and factorvae_active_dims.
  """
  variances_D = np.asarray(variances_D, np.float64)
  active_D = np.sqrt(variances_D) >= prune_threshold
  num_active = int(active_D.sum())
  if num_active == 0:
    return {"factorvae_train_accuracy": 0.0, "factorvae_score": 0.0, "factorvae_active_dims": 0}
  local_VA = np.var(np.asarray(z_VBD, np.float64)[..., active_D], axis=1, ddof=1)
  vote_V = np.argmin(local_VA / variances_D[active_D], axis=1)
  counts_AK = np.zeros((num_active, num_factors), np.int64)
  np.add.at(counts_AK, (vote_V[:num_train], k_V[:num_train]), 1)
  predict_A = np.argmax(counts_AK, axis=1)  # ties (and dims never voted for) -> lowest factor
  train_acc = counts_AK.max(axis=1).sum() / max(num_train, 1)
  held = predict_A[vote_V[num_train:]] == k_V[num_train:]
  return {"factorvae_train_accuracy": float(train_acc),
          "factorvae_score": float(held.mean()) if held.size else 0.0,
          "factorvae_active_dims": num_active}


# ---- mutual information: MIG, modularity -------------------------------------------------------

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

  Returns:
    mig and mig_<k> per factor (k its column).
  """
  mi_DK = mutual_info_matrix(discretize(z_ND, num_bins), factors_NK)
  return mig_from_mutual_info(mi_DK, factors_NK)


def mig_from_mutual_info(mi_DK: np.ndarray, factors_NK: np.ndarray) -> dict[str, float]:
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  entropy_K = np.array([metrics.mutual_info_score(f, f) for f in factors_NK.T])
  gap_K = top_two_gap(mi_DK) / np.maximum(entropy_K, 1e-12)
  out = {"mig": float(gap_K.mean())}
  out.update({f"mig_{k}": float(g) for k, g in enumerate(gap_K)})
  return out


def modularity(mi_DK: np.ndarray) -> float:
  """Ridgeway & Zemel's modularity of an MI matrix [D, K]: how far each dim serves one factor.

  Per dim 1 - (sum_k MI^2 - max_k MI^2) / (max_k MI^2 (K - 1)); a dim with no information
  scores 0; the mean over dims.
  """
  sq_DK = np.square(np.asarray(mi_DK, np.float64))
  num_factors = sq_DK.shape[1]
  max_D = sq_DK.max(axis=1)
  if num_factors < 2:
    return float(np.mean(max_D > 0))
  rest_D = sq_DK.sum(axis=1) - max_D
  per_dim = np.where(max_D > 0, 1 - rest_D / np.maximum(max_D * (num_factors - 1), 1e-300), 0.0)
  return float(per_dim.mean())


# ---- DCI -----------------------------------------------------------------------------------------

def gbt_importance(z_train_ND, f_train_NK, z_test_MD, f_test_MK, seed: int = 0, n_jobs: int = 1):
  """R [D, K] from one gradient-boosted classifier per factor (scikit-learn defaults), with
  each classifier's train and test accuracy [K]."""
  from sklearn import ensemble  # pylint: disable=g-import-not-at-top

  def fit(k):
    # random_state only breaks ties between equally good splits (their call leaves it unset).
    model = ensemble.GradientBoostingClassifier(random_state=seed)
    model.fit(z_train_ND, f_train_NK[:, k])
    return (np.abs(model.feature_importances_), model.score(z_train_ND, f_train_NK[:, k]),
            model.score(z_test_MD, f_test_MK[:, k]))

  fits = _parallel(fit, range(f_train_NK.shape[1]), n_jobs)
  r_DK = np.stack([f[0] for f in fits], axis=1)
  return r_DK, np.array([f[1] for f in fits]), np.array([f[2] for f in fits])


def _normalised_entropy(p_RC: np.ndarray) -> np.ndarray:
  """Entropy of each row of p + 1e-11 (normalised), in base C (the number of columns)."""
  if p_RC.shape[1] < 2:
    return np.zeros(len(p_RC))
  p = p_RC + 1e-11
  p = p / p.sum(axis=1, keepdims=True)
  return -np.sum(p * np.log(p), axis=1) / np.log(p_RC.shape[1])


def dci_from_importance(r_DK: np.ndarray) -> dict[str, float]:
  """Disentanglement and completeness of an importance matrix [D, K] (each weighted by share)."""
  r_DK = np.abs(np.asarray(r_DK, np.float64))
  weights_DK = r_DK if r_DK.sum() > 0 else np.ones_like(r_DK)
  rho_D = weights_DK.sum(axis=1) / weights_DK.sum()
  w_K = weights_DK.sum(axis=0) / weights_DK.sum()
  return {"dci_disentanglement": float(np.sum(rho_D * (1 - _normalised_entropy(r_DK)))),
          "dci_completeness": float(np.sum(w_K * (1 - _normalised_entropy(r_DK.T))))}


def dci(z_train_ND, f_train_NK, z_test_MD, f_test_MK, seed: int = 0,
        n_jobs: int = 1) -> dict[str, float]:
  """Eastwood & Williams' DCI with gradient-boosted importances (see the module docstring)."""
  r_DK, train_K, test_K = gbt_importance(z_train_ND, f_train_NK, z_test_MD, f_test_MK, seed,
                                         n_jobs)
  out = dci_from_importance(r_DK)
  out["dci_informativeness"] = float(test_K.mean())
  out["dci_informativeness_train"] = float(train_K.mean())
  return out


# ---- SAP -----------------------------------------------------------------------------------------

def sap_matrix(z_train_ND, f_train_NK, z_test_MD, f_test_MK, seed: int = 0,
               n_jobs: int = 1) -> np.ndarray:
  """S [D, K]: held-out accuracy of a balanced LinearSVC(C=0.01) on code dim d alone."""
  from sklearn import svm  # pylint: disable=g-import-not-at-top

  def column(k):
    acc_D = np.zeros(z_train_ND.shape[1])
    for d in range(z_train_ND.shape[1]):
      clf = svm.LinearSVC(C=0.01, class_weight="balanced", random_state=seed)
      clf.fit(z_train_ND[:, d:d + 1], f_train_NK[:, k])
      acc_D[d] = np.mean(clf.predict(z_test_MD[:, d:d + 1]) == f_test_MK[:, k])
    return acc_D

  return np.stack(_parallel(column, range(f_train_NK.shape[1]), n_jobs), axis=1)


def sap(z_train_ND, f_train_NK, z_test_MD, f_test_MK, seed: int = 0,
        n_jobs: int = 1) -> dict[str, float]:
  """Kumar et al.'s separated attribute predictability for discrete factors.

  Returns:
    sap: mean over factors of the gap between the two most predictive dims' accuracy.
  """
  s_DK = sap_matrix(z_train_ND, f_train_NK, z_test_MD, f_test_MK, seed, n_jobs)
  return {"sap": float(np.mean(top_two_gap(s_DK)))}


# ---- explicitness --------------------------------------------------------------------------------

def macro_auc(y_M: np.ndarray, proba_MC: np.ndarray, classes_C: np.ndarray) -> float:
  """Mean over classes of the one-vs-rest ROC AUC of `proba_MC[:, c]` for `y == classes_C[c]`.

  A class absent from (or making up all of) y has no AUC and is left out of the mean.
  """
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  aucs = []
  for c, value in enumerate(classes_C):
    positive = y_M == value
    if 0 < positive.sum() < len(y_M):
      aucs.append(metrics.roc_auc_score(positive, proba_MC[:, c]))
  return float(np.mean(aucs)) if aucs else float("nan")


def explicitness(z_train_ND, f_train_NK, z_test_MD, f_test_MK,
                 n_jobs: int = 1) -> dict[str, float]:
  """Ridgeway & Zemel's explicitness: per factor, the macro AUC of a LogisticRegression
  (scikit-learn defaults) on codes standardised by the training mean and std; mean over
  factors, on the training and the held-out codes."""
  from sklearn import linear_model  # pylint: disable=g-import-not-at-top
  mean_D, std_D = z_train_ND.mean(axis=0), z_train_ND.std(axis=0)
  std_D = np.where(std_D > 0, std_D, 1.0)  # a constant dim stays 0 rather than nan
  xt_ND, xe_MD = (z_train_ND - mean_D) / std_D, (z_test_MD - mean_D) / std_D

  def fit(k):
    clf = linear_model.LogisticRegression().fit(xt_ND, f_train_NK[:, k])
    return (macro_auc(f_train_NK[:, k], clf.predict_proba(xt_ND), clf.classes_),
            macro_auc(f_test_MK[:, k], clf.predict_proba(xe_MD), clf.classes_))

  fits = _parallel(fit, range(f_train_NK.shape[1]), n_jobs)
  return {"explicitness_train": float(np.mean([f[0] for f in fits])),
          "explicitness": float(np.mean([f[1] for f in fits]))}


# ---- unsupervised scores -------------------------------------------------------------------------

def gaussian_total_correlation(cov_DD: np.ndarray) -> float:
  """KL(N(0, C) || N(0, diag C)) = 1/2 (sum log diag C - log det C); inf when C is singular.

  A dim of zero variance (a switched-off code, exactly constant) is independent of the
  others and adds nothing: it is left out rather than making the score nan.
  """
  keep_D = np.diag(cov_DD) > 0
  cov_DD = cov_DD[np.ix_(keep_D, keep_D)]
  if not len(cov_DD):
    return 0.0
  sign, logdet = np.linalg.slogdet(cov_DD)
  if sign <= 0:
    return float("inf")
  return float(0.5 * (np.sum(np.log(np.diag(cov_DD))) - logdet))


def gaussian_wasserstein_correlation(cov_DD: np.ndarray) -> float:
  """Squared 2-Wasserstein distance between N(0, C) and N(0, diag C).

  W2^2 = tr C + tr V - 2 tr (C^1/2 V C^1/2)^1/2 with V = diag C, so 2 tr C - 2 tr (...)^1/2;
  the square roots come from symmetric eigendecompositions (negative rounding clipped to 0).
  """
  evals, evecs = np.linalg.eigh(cov_DD)
  root_DD = (evecs * np.sqrt(np.clip(evals, 0, None))) @ evecs.T
  inner_DD = root_DD @ np.diag(np.diag(cov_DD)) @ root_DD
  inner_eigs = np.clip(np.linalg.eigvalsh((inner_DD + inner_DD.T) / 2), 0, None)
  return float(2 * np.trace(cov_DD) - 2 * np.sum(np.sqrt(inner_eigs)))


def unsupervised_scores(z_ND: np.ndarray, num_bins: int = MIG_BINS) -> dict[str, float]:
  """Scores of the codes alone: Gaussian total / Wasserstein correlation of their covariance
  (ddof 1) and the mean plug-in MI between distinct pairs of 20-bin discretised dims."""
  z_ND = np.asarray(z_ND, np.float64)
  cov_DD = np.atleast_2d(np.cov(z_ND, rowvar=False))
  num_dims = z_ND.shape[1]
  gwc = gaussian_wasserstein_correlation(cov_DD)
  trace = float(np.trace(cov_DD))
  bins_ND = discretize(z_ND, num_bins)
  mi_DD = mutual_info_matrix(bins_ND, bins_ND)
  np.fill_diagonal(mi_DD, 0.0)
  pairs = num_dims * (num_dims - 1)
  return {"gaussian_total_correlation": gaussian_total_correlation(cov_DD),
          "gaussian_wasserstein_correlation": gwc,
          "gaussian_wasserstein_correlation_norm": gwc / trace if trace > 0 else 0.0,
          "mutual_info_score": float(mi_DD.sum() / pairs) if pairs else 0.0}


# ---- everything drawn from random samples -------------------------------------------------------

RANDOM_SAMPLE_METRICS = ("mig", "modularity", "explicitness", "dci", "sap", "unsupervised")


def all_random_sample_metrics(z_ND: np.ndarray, factors_NK: np.ndarray, num_train: int,
                              seed: int = 0, num_bins: int = MIG_BINS, n_jobs: int = 1,
                              done: Callable[[str], None] | None = None) -> dict[str, float]:
  """MIG, modularity and the unsupervised scores on the first `num_train` samples; DCI, SAP
  and explicitness trained there and scored on the rest. `done(name)` is called as each
  of RANDOM_SAMPLE_METRICS is finished (progress lines: DCI alone may take minutes)."""
  done = done or (lambda name: None)
  zt, ft = z_ND[:num_train], factors_NK[:num_train]
  ze, fe = z_ND[num_train:], factors_NK[num_train:]
  mi_DK = mutual_info_matrix(discretize(zt, num_bins), ft)
  out = mig_from_mutual_info(mi_DK, ft)
  done("mig")
  out["modularity"] = modularity(mi_DK)
  done("modularity")
  out.update(explicitness(zt, ft, ze, fe, n_jobs))
  done("explicitness")
  out.update(dci(zt, ft, ze, fe, seed, n_jobs))
  done("dci")
  out.update(sap(zt, ft, ze, fe, seed, n_jobs))
  done("sap")
  out.update(unsupervised_scores(zt, num_bins))
  done("unsupervised")
  return out
