"""disentanglement_lib's metrics on constructed codes whose scores follow by hand.

Four binary factors a, b, c, d (values 0/1, code values s = 2f - 1 = +-1) make every case
exact or bounded by sampling theory alone:
- identity: each code dim is one factor;
- rotation: (a, b) turned by 45 degrees, so each of the two dims carries half of each;
- duplicate: a's dim appears twice;
- mixture: one dim 2 s_a + s_b carries both a and b;
- small scale: a's dim at std 0.15 (FactorVAE must keep it) or 0.04 (it must prune it);
- noise: uniform codes independent of the factors.
A classifier fit on data independent of the held-out labels is right on each held-out
point with probability exactly 1 / (number of values) for a uniform factor, so its accuracy is
Binomial(M, p) / M; we allow 5 standard deviations (Z), a two-sided chance of about 6e-7.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import scipy.stats

from genjax.evals import disentanglement_metrics as dm

K = 4
SIZES = (2,) * K
N, M = 2000, 2000  # training and held-out random samples
VOTES, BATCH = 200, 16  # BetaVAE / FactorVAE points (train and eval each)
Z = 5.0
LOG2 = math.log(2)


def binomial_halfwidth(p, m):
  return Z * math.sqrt(p * (1 - p) / m)


def signs(f):
  return 2.0 * f - 1.0


def identity(f):
  return signs(f)


def rotation(f):
  s = signs(f)
  return np.concatenate([(s[..., :1] + s[..., 1:2]) / math.sqrt(2),
                         (s[..., :1] - s[..., 1:2]) / math.sqrt(2), s[..., 2:]], -1)


def duplicate(f):
  s = signs(f)
  return np.concatenate([s[..., :1], s], -1)


def mixture(f):
  s = signs(f)
  return np.concatenate([2 * s[..., :1] + s[..., 1:2], s[..., 2:]], -1)


def scaled(scale):
  def represent(f):
    s = signs(f)
    return np.concatenate([scale * s[..., :1], s[..., 1:]], -1)
  return represent


def noise(f):
  rng = np.random.default_rng(int(f.sum()) % 2**32)
  return rng.uniform(-1, 1, f.shape[:-1] + (5,))


@pytest.fixture(scope="module")
def sample():
  f = dm.sample_factors(np.random.default_rng(0), SIZES, N + M)
  return f[:N], f[N:]


def split_scores(represent, sample, fn, **kw):
  ft, fe = sample
  return fn(represent(ft), ft, represent(fe), fe, **kw)


# ---- a hand-written reference of the plug-in estimates (counts, no scikit-learn) -----------------

def ref_mutual_info(a, b):
  joint = np.zeros((a.max() + 1, b.max() + 1))
  np.add.at(joint, (a, b), 1)
  p = joint / joint.sum()
  pa, pb = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
  nz = p > 0
  return float(np.sum(p[nz] * np.log(p[nz] / (pa * pb)[nz])))


def ref_bins(z, bins=20):
  lo, hi = z.min(0), z.max(0)
  return np.minimum(((z - lo) / (hi - lo) * bins).astype(int), bins - 1)


def ref_mig(z, f):
  b = ref_bins(z)
  mi = np.array([[ref_mutual_info(b[:, d], f[:, k]) for k in range(f.shape[1])]
                 for d in range(z.shape[1])])
  h = np.array([ref_mutual_info(f[:, k], f[:, k]) for k in range(f.shape[1])])
  top = np.sort(mi, 0)
  return float(np.mean((top[-1] - top[-2]) / h)), mi


# ---- MIG ----------------------------------------------------------------------------------------

def test_mig_agrees_with_a_hand_written_plugin_reference(sample):
  ft, _ = sample
  for represent in (identity, rotation, mixture, noise):
    assert dm.mig(represent(ft), ft)["mig"] == pytest.approx(ref_mig(represent(ft), ft)[0],
                                                             abs=1e-12)


def test_mig_of_constructed_codes(sample):
  ft, _ = sample
  # An independent pair's plug-in MI is chi2_{(r-1)(c-1)} / 2N to first order; a fair coin's
  # plug-in entropy is at least h(1/2 - Z/(2 sqrt N)).
  p_lo = 0.5 - Z * 0.5 / math.sqrt(N)
  h_min = -(p_lo * math.log(p_lo) + (1 - p_lo) * math.log(1 - p_lo))
  chance_mi = scipy.stats.chi2.ppf(1 - 1e-7, 1) / (2 * N)  # a binary code dim vs a factor
  assert dm.mig(identity(ft), ft)["mig"] >= 1 - chance_mi / h_min
  # Scale does not move equal-width bins: the small-scale latent scores as the identity.
  assert dm.mig(scaled(0.15)(ft), ft) == dm.mig(identity(ft), ft)
  # Duplicate: a's two dims hold the same MI, so a's gap is exactly 0.
  dup = dm.mig(duplicate(ft), ft)
  assert dup["mig_0"] == 0.0 and dup["mig"] == pytest.approx(
      np.mean([dup[f"mig_{k}"] for k in range(1, K)]) * (K - 1) / K)
  # Rotation: each rotated dim knows a (and b) only when it is +-sqrt 2, half the time, so
  # both carry I = log 2 / 2 and a's gap is a difference of two estimates of the same value.
  rot = dm.mig(rotation(ft), ft)
  _, mi = ref_mig(rotation(ft), ft)
  assert mi[:2, :2] == pytest.approx(np.full((2, 2), LOG2 / 2), abs=Z * 0.5 / math.sqrt(N))
  assert rot["mig_0"] <= 2 * Z * 0.5 / math.sqrt(N) / h_min
  # Mixture: 2 s_a + s_b determines both a and b, which MIG does not penalise.
  assert dm.mig(mixture(ft), ft)["mig"] >= 1 - chance_mi / h_min


def test_mig_of_noise_is_its_plugin_bias(sample):
  ft, _ = sample
  z = noise(ft)
  bound = scipy.stats.chi2.ppf(1 - 1e-7, 19) / (2 * N)  # 20 bins x 2 values
  assert dm.mig(z, ft)["mig"] <= bound / LOG2 * 1.01


# ---- modularity and explicitness ---------------------------------------------------------------

def mi_of(represent, ft):
  return dm.mutual_info_matrix(dm.discretize(represent(ft)), ft)


def test_modularity_of_exact_mi_matrices():
  assert dm.modularity(np.eye(4)) == 1.0
  # One dim serving two of four factors equally: 1 - 1 / (K - 1).
  assert dm.modularity(np.array([[1.0, 1.0, 0, 0]])) == pytest.approx(2 / 3)
  assert dm.modularity(np.ones((3, 4))) == pytest.approx(0.0)
  assert dm.modularity(np.zeros((2, 4))) == 0.0  # no information: 0, not nan


def test_modularity_of_constructed_codes(sample):
  ft, _ = sample
  # Off-factor MI is at most chance_mi; the squared ratio to log 2 bounds the loss per dim.
  chance = scipy.stats.chi2.ppf(1 - 1e-7, 1) / (2 * N) / (LOG2 * 0.99)
  assert dm.modularity(mi_of(identity, ft)) >= 1 - chance**2
  assert dm.modularity(mi_of(duplicate, ft)) >= 1 - chance**2
  assert dm.modularity(mi_of(scaled(0.15), ft)) == dm.modularity(mi_of(identity, ft))
  # Mixture: dim 0 serves a and b (2/3), dims 1, 2 one factor each: (2/3 + 1 + 1) / 3.
  assert dm.modularity(mi_of(mixture, ft)) == pytest.approx(8 / 9, abs=3 * chance)
  # Rotation: the two rotated dims serve a and b half each (2/3): (2/3 * 2 + 2) / 4.
  sd = Z * 0.5 / math.sqrt(N) / (LOG2 / 2)  # relative error of each estimate of log 2 / 2
  assert dm.modularity(mi_of(rotation, ft)) == pytest.approx(5 / 6, abs=2 * sd + 3 * chance)


def test_explicitness_is_one_for_linearly_decodable_codes_and_chance_for_noise(sample):
  # Identity, rotation (s_a = (z0 + z1) / sqrt 2) and duplicate codes separate every factor
  # linearly with a margin: every positive outranks every negative, AUC exactly 1.
  for represent in (identity, rotation, duplicate, scaled(0.15)):
    out = split_scores(represent, sample, dm.explicitness)
    assert out["explicitness"] == 1.0 and out["explicitness_train"] == 1.0, represent
  # Noise: held-out scores independent of the labels; the AUC's null sd is
  # sqrt((n1 + n2 + 1) / (12 n1 n2)) with n1 = n2 = M / 2 (to within the class counts' noise).
  out = split_scores(noise, sample, dm.explicitness)
  sd = math.sqrt((M + 1) / (12 * (M / 2) ** 2))
  assert out["explicitness"] == pytest.approx(0.5, abs=Z * sd)


def test_macro_auc_skips_a_class_with_no_positives():
  y = np.array([0, 0, 1, 1])
  proba = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.3, 0.7, 0.0], [0.1, 0.9, 0.0]])
  assert dm.macro_auc(y, proba, np.array([0, 1, 2])) == 1.0


# ---- DCI ----------------------------------------------------------------------------------------

def test_dci_of_known_importance_matrices():
  eye = dm.dci_from_importance(np.eye(3))
  assert eye["dci_disentanglement"] == pytest.approx(1.0, abs=1e-8)
  assert eye["dci_completeness"] == pytest.approx(1.0, abs=1e-8)
  uniform = dm.dci_from_importance(np.ones((3, 3)))
  assert uniform["dci_disentanglement"] == pytest.approx(0.0, abs=1e-12)
  assert uniform["dci_completeness"] == pytest.approx(0.0, abs=1e-12)
  # One code for two factors: perfectly complete, half disentangled (1 - log 2 / log 4).
  half = dm.dci_from_importance(np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]))
  assert half["dci_completeness"] == pytest.approx(1.0, abs=1e-8)
  assert half["dci_disentanglement"] == pytest.approx(0.5, abs=1e-8)
  zero = dm.dci_from_importance(np.zeros((2, 3)))
  assert zero["dci_disentanglement"] == pytest.approx(0.0, abs=1e-12)


def test_dci_importances_follow_the_factor_each_code_carries(sample):
  # Binary codes: the root split of every boosting tree is the class boundary on the one dim
  # that carries the factor; its children are pure, so no tree ever splits on another dim
  # and the importance matrix is exactly one-hot.
  out = split_scores(identity, sample, dm.dci)
  assert out["dci_disentanglement"] == pytest.approx(1.0, abs=1e-8)
  assert out["dci_completeness"] == pytest.approx(1.0, abs=1e-8)
  assert out["dci_informativeness"] == 1.0 and out["dci_informativeness_train"] == 1.0
  # Mixture: dim 0 holds a and b (weight 2/4, per-code 1 - log 2 / log 4 = 1/2), the others
  # one factor each (weight 1/4 each): D = 3/4, and every factor has one code: C = 1.
  out = split_scores(mixture, sample, dm.dci)
  assert out["dci_disentanglement"] == pytest.approx(0.75, abs=1e-8)
  assert out["dci_completeness"] == pytest.approx(1.0, abs=1e-8)
  assert out["dci_informativeness"] == 1.0
  # Duplicate: each tree for a splits on one of the two copies, so every code still serves
  # one factor (D = 1) while a's importance may be shared between the copies.
  assert split_scores(duplicate, sample, dm.dci)["dci_disentanglement"] == pytest.approx(
      1.0, abs=1e-8)
  # Trees split on thresholds: rescaling a code changes nothing.
  assert split_scores(scaled(0.15), sample, dm.dci) == split_scores(identity, sample, dm.dci)
  # Rotation loses nothing: depth-3 trees read a and b off the 3 x 3 grid of (z0, z1).
  assert split_scores(rotation, sample, dm.dci)["dci_informativeness"] == 1.0


def test_dci_of_noise_is_chance_informativeness(sample):
  out = split_scores(noise, sample, dm.dci)
  assert out["dci_informativeness"] == pytest.approx(0.5, abs=binomial_halfwidth(0.5, M))


# ---- SAP ----------------------------------------------------------------------------------------

def test_sap_of_constructed_codes(sample):
  chance = binomial_halfwidth(0.5, M)
  s = split_scores(identity, sample, dm.sap_matrix)
  # Own dim: a threshold at 0 separates +-1 exactly; another dim is independent of the
  # factor, so its held-out accuracy is Binomial(M, 1/2) / M.
  np.testing.assert_array_equal(np.diag(s), 1.0)
  off = s[~np.eye(K, dtype=bool)]
  assert np.all(np.abs(off - 0.5) <= chance)
  assert split_scores(identity, sample, dm.sap)["sap"] == pytest.approx(0.5, abs=chance)
  # Duplicate: the two copies of a's dim are fit to the same data, so a's gap is exactly 0.
  dup = split_scores(duplicate, sample, dm.sap_matrix)
  np.testing.assert_array_equal(dup[0], dup[1])
  assert split_scores(duplicate, sample, dm.sap)["sap"] == pytest.approx(3 / 8, abs=chance)
  # Rotation: z0 in {-sqrt 2, 0, sqrt 2}; any threshold between two of them is right on the
  # two certain values and half of the zeros: 3/4 for a and b from either dim, so their gaps
  # vanish and SAP = (0 + 0 + 1/2 + 1/2) / 4.
  rot = split_scores(rotation, sample, dm.sap_matrix)
  assert rot[:2, :2] == pytest.approx(np.full((2, 2), 0.75), abs=binomial_halfwidth(0.75, M))
  assert split_scores(rotation, sample, dm.sap)["sap"] == pytest.approx(
      0.25, abs=2 * binomial_halfwidth(0.75, M))
  # Small scale: with balanced weights the problem is symmetric under (x, y) -> (-x, -y), so
  # the intercept is 0 and the sign of 0.15 s_a still classifies every point.
  assert split_scores(scaled(0.15), sample, dm.sap_matrix)[0, 0] == 1.0
  # Noise: every accuracy is Binomial(M, 1/2) / M, so every gap is within their spread.
  assert split_scores(noise, sample, dm.sap)["sap"] <= 2 * chance


# ---- BetaVAE and FactorVAE ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def votes():
  rng = np.random.default_rng(1)
  pairs = dm.fixed_factor_pairs(rng, SIZES, 2 * VOTES, BATCH)
  batches = dm.fixed_factor_batches(rng, SIZES, 2 * VOTES, BATCH)
  return pairs, batches


def factorvae(represent, votes, sample, **kw):
  f_VBK, k_V = votes[1]
  variances = dm.global_variances(represent(sample[0]))
  return dm.factorvae_score(represent(f_VBK), k_V, variances, VOTES, K, **kw)


def test_factorvae_of_constructed_codes(votes, sample):
  _, k_V = votes[1]
  # The fixed factor's dim has local variance exactly 0; any other +-1 dim is 0 only if all
  # 16 draws agree (2^-15): every vote is right.
  for represent in (identity, duplicate, scaled(0.15)):
    out = factorvae(represent, votes, sample)
    assert out["factorvae_score"] == 1.0 and out["factorvae_train_accuracy"] == 1.0
    assert out["factorvae_active_dims"] == (5 if represent is duplicate else 4)
  # std 0.04 < 0.05: pruned, so a's votes go to other factors' dims, whose majority they
  # cannot take (each holds ~1/4 of the votes for its own factor): exactly a's votes fail.
  out = factorvae(scaled(0.04), votes, sample)
  assert out["factorvae_active_dims"] == 3
  assert out["factorvae_score"] == pytest.approx(np.mean(k_V[VOTES:] != 0), abs=1e-12)
  # Mixture: with a fixed, dim 0's variance ratio is var(s_b) / 5 <= 16/15 / 5 < the least
  # nonzero ratio of a +-1 dim (4 * 15 / 240 = 0.25), so a's votes all go to dim 0 and win
  # it; b's votes then fail wherever they go.
  out = factorvae(mixture, votes, sample)
  assert out["factorvae_score"] == pytest.approx(np.mean(k_V[VOTES:] != 1), abs=1e-12)


def test_factorvae_of_a_rotation_cannot_tell_its_two_factors_apart(votes, sample):
  _, k_V = votes[1]
  k_eval = k_V[VOTES:]
  # c's and d's dims are exactly still when they are fixed: those votes are all right. With
  # a or b fixed, the codes have the same distribution (z0 and z1 swap signs), so a dim's
  # majority can name at most one of them: at most half of their votes are right.
  out = factorvae(rotation, votes, sample)
  sure = np.mean(k_eval >= 2)
  assert sure <= out["factorvae_score"] <= sure + (1 - sure) / 2 + binomial_halfwidth(
      0.5 * (1 - sure), VOTES)


def test_factorvae_prunes_on_the_standard_deviation():
  z_VBD = np.zeros((4, 3, 2))
  out = dm.factorvae_score(z_VBD, np.zeros(4, int), np.array([0.05**2, 0.049**2]), 2, 1)
  assert out["factorvae_active_dims"] == 1


def test_vote_scores_of_noise_are_chance(votes, sample):
  # Held-out features independent of their labels: right with probability 1/K each.
  (f1, f2, k_P), (f_VBK, k_V) = votes
  bvae = dm.betavae_score(noise(f1), noise(f2), k_P, VOTES)
  assert bvae["betavae_score"] == pytest.approx(1 / K, abs=binomial_halfwidth(1 / K, VOTES))
  fvae = factorvae(noise, votes, sample)
  assert fvae["factorvae_score"] == pytest.approx(1 / K, abs=binomial_halfwidth(1 / K, VOTES))


def test_betavae_separates_a_perfect_code(votes):
  # The fixed factor's feature is exactly 0 and every other one at least 2 / 16, so a
  # linear rule (argmin) classifies every point; the regularised fit finds it.
  f1, f2, k_P = votes[0]
  for represent in (identity, duplicate):
    assert dm.betavae_score(represent(f1), represent(f2), k_P, VOTES)["betavae_score"] == 1.0


def test_betavae_of_a_rotation_cannot_tell_its_two_factors_apart(votes):
  # Fixing a or fixing b gives |dz0| = |dz1| = |ds| / sqrt 2 from the other: the features
  # have one distribution for both, so the classifier's choice between a and b is right
  # with probability 1/2 on their points, while c and d stay separable.
  f1, f2, k_P = votes[0]
  k_eval = k_P[VOTES:]
  out = dm.betavae_score(rotation(f1), rotation(f2), k_P, VOTES)
  sure = np.mean(k_eval >= 2)
  expected = sure + (1 - sure) / 2
  assert out["betavae_score"] == pytest.approx(expected, abs=binomial_halfwidth(0.5, VOTES))


# ---- unsupervised scores -----------------------------------------------------------------------

def their_wasserstein(cov):
  """disentanglement_lib's formula, through scipy's general matrix square root."""
  root = scipy.linalg.sqrtm(cov * np.diag(cov)[:, None])
  return float(np.real(2 * np.trace(cov) - 2 * np.trace(root)))


def test_gaussian_scores_of_known_covariances():
  # 45-degree rotation of variances (u, v): C = [[m, h], [h, m]], m = (u + v) / 2,
  # h = (u - v) / 2: TC = log(m / sqrt(uv)); W2^2 = 4m - 2 (sqrt(m^2 + mh) + sqrt(m^2 - mh)).
  u, v = 3.0, 1.0
  m, h = (u + v) / 2, (u - v) / 2
  cov = np.array([[m, h], [h, m]])
  assert dm.gaussian_total_correlation(cov) == pytest.approx(math.log(m / math.sqrt(u * v)))
  expected = 4 * m - 2 * (math.sqrt(m * m + m * h) + math.sqrt(m * m - m * h))
  assert dm.gaussian_wasserstein_correlation(cov) == pytest.approx(expected, rel=1e-12)
  assert dm.gaussian_total_correlation(np.diag([2.0, 0.5, 7.0])) == pytest.approx(0, abs=1e-15)
  assert dm.gaussian_wasserstein_correlation(np.diag([2.0, 0.5])) == pytest.approx(0, abs=1e-12)
  assert dm.gaussian_total_correlation(np.ones((2, 2))) == math.inf  # a duplicated code
  assert dm.gaussian_total_correlation(np.diag([2.0, 0.0])) == 0.0  # a constant code
  rng = np.random.default_rng(0)
  a = rng.standard_normal((6, 6))
  cov = a @ a.T + 0.1 * np.eye(6)
  assert dm.gaussian_wasserstein_correlation(cov) == pytest.approx(their_wasserstein(cov),
                                                                   rel=1e-9)


def test_unsupervised_scores_of_constructed_codes(sample):
  ft, _ = sample
  # Rotation keeps +-1 codes uncorrelated (equal variances), so the Gaussian scores see
  # nothing; but z0 = 0 exactly when z1 != 0: I(z0; z1) = log 2 for that pair (both ways)
  # out of D (D - 1) = 12 ordered pairs, the other pairs independent.
  out = dm.unsupervised_scores(rotation(ft))
  # 2N TC ~ chi2 with D (D - 1) / 2 degrees of freedom for uncorrelated codes.
  tc_bound = scipy.stats.chi2.ppf(1 - 1e-7, 6) / (2 * N)
  assert 0 <= out["gaussian_total_correlation"] <= tc_bound
  chance_mi = scipy.stats.chi2.ppf(1 - 1e-7, 2) / (2 * N)
  assert out["mutual_info_score"] == pytest.approx(2 * LOG2 / 12, abs=2 * chance_mi)
  assert dm.unsupervised_scores(duplicate(ft))["gaussian_total_correlation"] == math.inf
  # Identity and mixture (2 s_a + s_b is uncorrelated with s_c, s_d): TC as for noise.
  for represent in (identity, mixture):
    assert 0 <= dm.unsupervised_scores(represent(ft))["gaussian_total_correlation"] <= tc_bound
  # TC and the binned MI do not see a code's scale.
  small, ident = dm.unsupervised_scores(scaled(0.15)(ft)), dm.unsupervised_scores(identity(ft))
  assert small["gaussian_total_correlation"] == pytest.approx(
      ident["gaussian_total_correlation"], rel=1e-9, abs=1e-15)
  assert small["mutual_info_score"] == ident["mutual_info_score"]
  # Uniform noise in 20 equal bins: each pair's plug-in MI is chi2_361 / 2N to first order.
  nz = np.random.default_rng(3).uniform(size=(4 * N, 5))
  out = dm.unsupervised_scores(nz)
  mean, sd = 361 / (8 * N), math.sqrt(2 * 361 / 10) / (8 * N)  # mean of 10 pairs
  assert out["mutual_info_score"] == pytest.approx(mean, abs=Z * sd + mean * 0.05)
  cov = np.cov(nz, rowvar=False)
  assert out["gaussian_wasserstein_correlation"] == pytest.approx(their_wasserstein(cov),
                                                                  rel=1e-6, abs=1e-12)
  assert out["gaussian_wasserstein_correlation_norm"] == pytest.approx(
      out["gaussian_wasserstein_correlation"] / np.trace(cov))


# ---- estimators and determinism ------------------------------------------------------------------

def test_mig_estimator_is_the_plugin_estimate_pinned_by_hand():
  from sklearn import metrics  # pylint: disable=g-import-not-at-top
  # Joint [[1/2, 0], [1/4, 1/4]]: I = 1/2 log(4/3) + 1/4 log(2/3) + 1/4 log 2.
  a, b = np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1])
  expected = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)
  assert dm.plugin_mutual_info(a, b) == pytest.approx(expected, abs=1e-12)
  assert metrics.mutual_info_score(a, b) == pytest.approx(expected, abs=1e-12)
  rng = np.random.default_rng(0)
  x, y = rng.integers(0, 20, 500), rng.integers(0, 7, 500)
  assert metrics.mutual_info_score(y, x) == pytest.approx(dm.plugin_mutual_info(x, y), abs=1e-10)


def test_discretize_uses_equal_width_bins_with_the_extremes_inside():
  z = np.r_[0.0, (np.arange(20) + 0.5) / 20, 1.0][:, None]  # bin centres and both ends
  bins = dm.discretize(z, 20)[:, 0]
  np.testing.assert_array_equal(bins, np.r_[0, np.arange(20), 19])
  # disentanglement_lib's digitize against the lower edges gives the same partition, +1.
  edges = np.histogram(z[:, 0], 20)[1]
  np.testing.assert_array_equal(np.digitize(z[:, 0], edges[:-1]) - 1, bins)


def test_random_sample_metrics_are_deterministic_and_independent_of_n_jobs():
  f = dm.sample_factors(np.random.default_rng(5), (3, 4, 5), 600)
  z = np.random.default_rng(6).standard_normal((600, 4)) + 0.5 * f[:, [0, 1, 2, 0]]
  one = dm.all_random_sample_metrics(z, f, 400, seed=2, n_jobs=1)
  assert one == dm.all_random_sample_metrics(z, f, 400, seed=2, n_jobs=2)
  assert {"mig", "modularity", "explicitness", "dci_disentanglement", "dci_completeness",
          "dci_informativeness", "sap", "gaussian_total_correlation",
          "gaussian_wasserstein_correlation", "gaussian_wasserstein_correlation_norm",
          "mutual_info_score"} <= set(one)
