"""The `disentanglement` evaluator: its protocols, its samplers, and a run on a known encoder.

The metrics themselves are tested on constructed codes in test_disentanglement_metrics.py.
"""
from __future__ import annotations

import types

import ml_collections
import numpy as np
import pytest
import sklearn

from genjax.core.dataset import DatasetInfo
from genjax.errors import ConfigError
from genjax.evals import disentanglement
from genjax.evals import disentanglement_metrics as dm

SIZES = (2, 2, 2, 2)


def cfg(**kw):
  return ml_collections.ConfigDict(kw)


class GridOfCodes:
  """A FactorSource whose 'images' are the factors' signs, s = 2f - 1: with an identity
  encoder the codes are a perfect representation."""

  def __init__(self, info):
    self.info = info

  def get_by_factors(self, factors_NK):
    return {"x": 2.0 * np.asarray(factors_NK, np.float32) - 1.0}


def identity_ctx():
  info = DatasetInfo(name="grid", x_shape=(4,), kind="vector",
                     factor_names=("a", "b", "c", "d"), factor_sizes=SIZES)
  return types.SimpleNamespace(
      info=info, test=GridOfCodes(info), state=None,
      require=lambda *a, **k: None, jit=lambda name: (lambda state, x: x))


def test_the_default_protocol_is_disentanglement_libs():
  label, sizes = disentanglement.protocol_sizes(cfg())
  assert label == "full"
  assert sizes == dict(num_train=10_000, num_eval=5_000, num_bins=20, betavae_num_train=10_000,
                       betavae_num_eval=5_000, betavae_batch_size=64, factorvae_num_train=10_000,
                       factorvae_num_eval=5_000, factorvae_batch_size=64,
                       factorvae_num_variance=10_000)


def test_a_changed_size_is_named_in_the_protocol_label():
  label, sizes = disentanglement.protocol_sizes(cfg(protocol="cpu", num_train=500,
                                                    num_eval=1_000, factorvae_num_variance=500))
  assert label == "cpu with num_train=500, factorvae_num_variance=500"
  assert sizes["num_train"] == 500 and sizes["betavae_num_train"] == 1_000


def test_fewer_random_samples_than_the_variance_estimate_use_them_all():
  label, sizes = disentanglement.protocol_sizes(cfg(num_train=2000, num_eval=1000))
  assert sizes["factorvae_num_variance"] == 3000
  assert label == "full with num_train=2000, num_eval=1000, factorvae_num_variance=3000"
  label, _ = disentanglement.protocol_sizes(cfg(protocol="tiny", prune_threshold=0.0))
  assert label == "tiny with prune_threshold=0"


@pytest.mark.parametrize("options, message", [
    (dict(protocol="fast"), "protocol='fast' is unknown; use one of full, cpu, tiny"),
    (dict(num_train=0), "num_train=0 must be a positive integer"),
    (dict(num_eval=2.5), "num_eval=2.5 must be a positive integer"),
    (dict(factorvae_batch_size=1), "factorvae_batch_size=1 is too small"),
    (dict(prune_threshold="low"), "prune_threshold='low' must be a number >= 0"),
    (dict(protocol="tiny", factorvae_num_variance=5000), "exceeds the 750 random samples"),
])
def test_bad_protocol_options_are_refused_in_one_line(options, message):
  with pytest.raises(ConfigError, match=message):
    disentanglement.protocol_sizes(cfg(**options))


def test_evaluator_on_a_perfect_code_names_its_protocol_and_scikit_learn():
  out = disentanglement.run(identity_ctx(), cfg(protocol="tiny", n_jobs=1))
  assert out["protocol"] == "tiny" and out["sklearn_version"] == sklearn.__version__
  # A perfect code of binary factors: every vote and every tree is exactly right (see the
  # metrics' tests for why).
  assert out["factorvae_score"] == 1.0 and out["factorvae_active_dims"] == 4
  assert out["dci_disentanglement"] == pytest.approx(1.0, abs=1e-8)
  assert out["dci_informativeness"] == 1.0 and out["explicitness"] == 1.0
  assert out["mig"] > 0.9 and out["modularity"] > 0.99
  for key in ("betavae_score", "sap", "gaussian_total_correlation",
              "gaussian_wasserstein_correlation_norm", "mutual_info_score", "seconds"):
    assert np.isfinite(out[key]), key


def test_evaluator_numbers_are_deterministic_for_a_seed():
  first = disentanglement.run(identity_ctx(), cfg(protocol="tiny", seed=3, n_jobs=1))
  again = disentanglement.run(identity_ctx(), cfg(protocol="tiny", seed=3, n_jobs=1))
  first.pop("seconds"), again.pop("seconds")
  assert first == again


def test_sampled_factors_share_exactly_the_fixed_factor():
  sizes = (3, 6, 20, 16, 16)
  rng = np.random.default_rng(0)
  f1, f2, k_P = dm.fixed_factor_pairs(rng, sizes, 50, 8)
  assert all((f1[p, :, k] == f2[p, :, k]).all() for p, k in enumerate(k_P))
  f_VBK, k_V = dm.fixed_factor_batches(rng, sizes, 50, 8)
  assert all((f_VBK[v, :, k] == f_VBK[v, 0, k]).all() for v, k in enumerate(k_V))
  assert (f_VBK < np.asarray(sizes)).all() and (f_VBK >= 0).all()


def test_disentanglement_refuses_a_dataset_without_factors():
  ctx = types.SimpleNamespace(info=DatasetInfo(name="digits", x_shape=(8, 8, 1), kind="image"))
  with pytest.raises(ConfigError, match="needs ground-truth factors"):
    disentanglement.check_factors(ctx)
