"""Latent-density resampling (Amini et al. 2019; its joint kNN variant) and rare classes:
weights by hand, draw frequencies, exact resume through the runner, one-line refusals, the
rare-class count."""
from __future__ import annotations

import jax
import numpy as np
import pytest

from genjax import config as gconfig
from genjax import data as gdata
from genjax.core.dataset import DatasetInfo
from genjax.data import digits, rare
from genjax.data.base import ArraySource
from genjax.data.pipeline import TrainBatches
from genjax.errors import ConfigError
from genjax.evals import per_class
from genjax.train import resample, runner
from tests.conftest import (assert_same_params, load, read_metrics, run_cli,
                            straight_and_resumed_runs)


def test_weights_are_the_inverse_smoothed_histogram_densities_multiplied_over_dims():
  # 2 bins over [0, 1] (width 1/2), N = 4: dim 0 holds counts (3, 1) -> densities
  # count / (N * width) = (1.5, 0.5); dim 1 holds (1, 3) -> (0.5, 1.5). With alpha = 0.5:
  # dim 0 weights 1/2, 1/2, 1/2, 1; dim 1 weights 1, 1/2, 1/2, 1/2; products
  # (1/2, 1/4, 1/4, 1/2), normalised (1/3, 1/6, 1/6, 1/3).
  z_ND = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 1.0]])
  probs = resample.latent_probabilities(z_ND, bins=2, alpha=0.5)
  np.testing.assert_allclose(probs, [1 / 3, 1 / 6, 1 / 6, 1 / 3], rtol=1e-12)
  # Uniform codes give uniform weights; a huge alpha makes any codes nearly uniform.
  np.testing.assert_allclose(resample.latent_probabilities(np.eye(4), 2, 0.0)[:1], [0.25])
  np.testing.assert_allclose(resample.latent_probabilities(z_ND, 2, 1e9), [0.25] * 4, rtol=1e-8)
  stats = resample.weight_stats(probs)
  assert stats["ess"] == pytest.approx(1 / (2 / 9 + 2 / 36))  # (sum w)^2 / sum w^2
  assert stats["max_min_ratio"] == pytest.approx(2.0)


def _source(n: int) -> ArraySource:
  return ArraySource(DatasetInfo("t", (1,), "vector"),
                     {"x": np.arange(n, dtype=np.float32)[:, None]})


def test_examples_in_low_density_bins_are_drawn_more_often():
  # 99 codes at 0 and one at 5, 10 bins of width 0.5: densities 99 / (100 * 0.5) = 1.98 and
  # 1 / 50; weights 1 / 1.98 (x 99) and 50, so the lone example gets half of all draws.
  z_N1 = np.array([0.0] * 99 + [5.0])[:, None]
  probs = resample.latent_probabilities(z_N1, bins=10, alpha=0.0)
  np.testing.assert_allclose(probs, [0.5 / 99] * 99 + [0.5], rtol=1e-12)
  batches = TrainBatches(_source(100), 50, seed=3)
  batches.draw_with(probs, epoch=1)
  drawn = np.concatenate([next(batches)["x"][:, 0] for _ in range(400)]).astype(int)
  batches.close()
  freq = np.bincount(drawn, minlength=100) / len(drawn)
  # 20,000 draws: every frequency within 5 binomial standard deviations of its probability.
  np.testing.assert_array_less(np.abs(freq - probs), 5 * np.sqrt(probs * (1 - probs) / len(drawn)) + 1e-9)
  assert freq[99] > 20 * freq[:99].max()


def test_weighted_iterator_state_restores_exactly_and_depends_on_seed_and_epoch():
  probs = np.linspace(1, 2, 30) / np.linspace(1, 2, 30).sum()
  a = TrainBatches(_source(30), 8, seed=0)
  next(a)
  a.draw_with(probs, epoch=2)
  next(a), next(a)
  state = a.get_state()
  rest = [next(a)["x"] for _ in range(5)]
  b = TrainBatches(_source(30), 8, seed=0)
  b.set_state(state)
  np.testing.assert_array_equal(np.stack(rest), np.stack([next(b)["x"] for _ in range(5)]))
  c = TrainBatches(_source(30), 8, seed=0)
  c.draw_with(probs, epoch=3)
  assert not np.array_equal(rest[0], next(c)["x"])
  for it in (a, b, c):
    it.close()


# --- the joint kNN density ('latent_knn') -------------------------------------------------

def _grid_and_far_triple():
  """A 20 x 20 grid of spacing 1 (400 codes) and 3 codes within 0.001 of (100, 100)."""
  grid_N2 = np.stack(np.meshgrid(np.arange(20.0), np.arange(20.0)), -1).reshape(-1, 2)
  triple_32 = np.array([[100.0, 100.0], [100.001, 100.0], [100.0, 100.001]])
  return np.concatenate([grid_N2, triple_32])


def test_knn_weights_lift_a_small_distant_cluster_to_the_cap():
  # Both dims are active with equal std, so standardising scales all distances alike. k = 5:
  # a grid point's 5th neighbour is at sqrt(2) (the median r), except the 4 corners' at 2:
  # density (sqrt(2) / 2)^2 = 1/2 of the median, weight 2. The triple's 5th neighbour is the
  # grid's corner, 114 away: density 1.5e-4, weight 6,500, clipped to 10 x the median (1).
  # Sum 396 + 4 * 2 + 3 * 10 = 434.
  probs = resample.knn_probabilities(_grid_and_far_triple(), k=5, alpha=0.0, active=0.3,
                                     max_ratio=10.0)
  corners = [0, 19, 380, 399]
  expected = np.full(403, 1 / 434)
  expected[corners] = 2 / 434
  expected[400:] = 10 / 434
  np.testing.assert_allclose(probs, expected, rtol=1e-9)
  # k = 2 < 3: the triple's 2nd neighbour is inside it (r ~ 0.001 against the grid's 1), so
  # the cluster reads as dense and gets the floor, 1/10 of the median weight.
  probs = resample.knn_probabilities(_grid_and_far_triple(), k=2, alpha=0.0, active=0.3,
                                     max_ratio=10.0)
  np.testing.assert_allclose(probs[400:], [0.1 / 400.3] * 3, rtol=1e-9)
  np.testing.assert_allclose(probs[:400], [1 / 400.3] * 400, rtol=1e-9)
  # Smoothing alpha = 1 (the median density): the triple's weight 1 / (1.5e-4 + 1) against
  # the grid's 1 / 2, about twice, far below the cap.
  probs = resample.knn_probabilities(_grid_and_far_triple(), k=5, alpha=1.0, active=0.3,
                                     max_ratio=10.0)
  assert 1.99 < probs[400] / probs[210] < 2.0


def test_knn_weights_of_uniform_codes_are_near_uniform():
  # Evenly spaced on a circle every code has the same neighbours: exactly uniform.
  angle_N = 2 * np.pi * np.arange(100) / 100
  circle_N2 = np.stack([np.cos(angle_N), np.sin(angle_N)], -1)
  np.testing.assert_allclose(resample.knn_probabilities(circle_N2, 5, 0.0, 0.3, 10.0),
                             [0.01] * 100, rtol=1e-9)
  # Uniform random codes: N pi r_k^2 is about Gamma(k, 1), so W ∝ r_k^2 has ESS / N =
  # k^2 / (k (k + 1)) = 10/11 for k = 10, a little less with the square's edges (larger r).
  z_N2 = np.random.default_rng(0).uniform(size=(2000, 2))
  stats = resample.weight_stats(resample.knn_probabilities(z_N2, 10, 0.0, 0.3, 1e9))
  assert 0.8 < stats["ess_fraction"] < 10 / 11
  # A huge alpha makes any codes uniform; a cap R bounds max / min by R^2.
  np.testing.assert_allclose(resample.knn_probabilities(_grid_and_far_triple(), 5, 1e9, 0.3, 10.0),
                             [1 / 403] * 403, rtol=1e-8)
  capped = resample.weight_stats(resample.knn_probabilities(z_N2, 10, 0.0, 0.3, 1.5))
  assert capped["max_min_ratio"] <= 1.5 ** 2 + 1e-9


def test_knn_weights_ignore_inactive_dims():
  # Three near-constant dims (std 0.001 against 0.29: below 0.3 of the largest) are dropped
  # before the distances, so the weights are identical; counted (active = 0) and standardised
  # to unit std they would be noise as large as the signal and change the weights.
  rng = np.random.default_rng(1)
  z_N2 = rng.uniform(size=(500, 2))
  z_N5 = np.concatenate([z_N2, 0.001 * rng.normal(size=(500, 3))], 1)
  np.testing.assert_array_equal(resample.active_dims(z_N5, 0.3), [True, True, False, False, False])
  np.testing.assert_array_equal(resample.knn_probabilities(z_N5, 5, 0.0, 0.3, 10.0),
                                resample.knn_probabilities(z_N2, 5, 0.0, 0.3, 10.0))
  assert not np.allclose(resample.knn_probabilities(z_N5, 5, 0.0, 0.0, 10.0),
                         resample.knn_probabilities(z_N2, 5, 0.0, 0.0, 10.0))


# --- through the runner ------------------------------------------------------------------

_TINY = dict(data__num_train=240, data__batch_size=16, data__eval_batch_size=60, data__num_eval=60,
             model__widths=(32,), model__latent_dim=3, train__steps_per_call=2, train__log_every=4,
             train__checkpoint_every=6, train__eval_every=0, train__figure_every=0,
             data__resample="latent_density", data__resample_every=4, data__resample_alpha=0.1)


def _params(state):
  return jax.tree.leaves(jax.device_get(state.params))


# stop: mid-way through a weighting epoch (10) or on a resample step (12). The weights travel
# in the data state whatever estimated them, so latent_knn needs only the second case.
@pytest.mark.parametrize("stop,method", [(10, "latent_density"), (12, "latent_density"),
                                         (12, "latent_knn")])
def test_resume_with_resampling_matches_uninterrupted_run(tmp_path, stop, method):
  tiny = {**_TINY, "data__resample": method}
  straight, resumed = straight_and_resumed_runs("vae.py:digits", tmp_path, 20, stop, **tiny)
  assert_same_params(straight, resumed)
  # The stopped run also logged its off-grid final step 10; every on-grid line is identical.
  on_grid = [r for r in read_metrics(str(tmp_path / "b")) if r["step"] % 4 == 0]
  assert read_metrics(str(tmp_path / "a")) == on_grid
  assert read_metrics(str(tmp_path / "a"), "resample") == read_metrics(str(tmp_path / "b"), "resample")
  logged = read_metrics(str(tmp_path / "a"), "resample")
  assert [r["step"] for r in logged] == [4, 8, 12, 16, 20]
  assert all(1 <= r["ess"] <= 240 and r["max_min_ratio"] >= 1 for r in logged)
  if method == "latent_knn":  # the cap R = 10 bounds max / min by R^2
    assert all(r["max_min_ratio"] <= 100 + 1e-9 and 1 <= r["active_dims"] <= 3 for r in logged)


def test_population_members_with_resampling_equal_their_solo_runs(tmp_path):
  """Each member draws with its own weights (from its own encoder and seed)."""
  configs = [load("vae.py:digits", train__num_steps=12, seed=s, **_TINY) for s in (0, 1)]
  solo = [runner.train_and_evaluate(c, str(tmp_path / f"solo{i}")) for i, c in enumerate(configs)]
  states, errors = runner.train_members(configs, [str(tmp_path / f"pop{i}") for i in (0, 1)],
                                        mode="loop")
  assert errors == [None, None]
  for i, (state, alone) in enumerate(zip(states, solo)):
    assert_same_params(state, alone)
    assert (read_metrics(str(tmp_path / f"pop{i}"), "resample")
            == read_metrics(str(tmp_path / f"solo{i}"), "resample"))


def test_resampling_changes_training_and_no_resample_keeps_the_fingerprint(tmp_path):
  plain = load("vae.py:digits")
  assert "resample" not in plain.data and "rare_class" not in plain.data
  explicit = load("vae.py:digits", data__resample="none")
  assert gconfig.optional(plain, "data.resample") == "none"
  assert gconfig.fingerprint(explicit) != gconfig.fingerprint(plain)  # a key set is a key
  common = {k: v for k, v in _TINY.items() if not k.startswith("data__resample")}
  a = runner.train_and_evaluate(load("vae.py:digits", train__num_steps=8, **common), str(tmp_path / "a"))
  b = runner.train_and_evaluate(load("vae.py:digits", train__num_steps=8, **_TINY), str(tmp_path / "b"))
  assert any(not np.array_equal(x, y) for x, y in zip(_params(a), _params(b)))


def test_resample_on_a_family_without_encode_is_one_config_error(tmp_path):
  config = load("gan.py:smoke", data__resample="latent_density")
  with pytest.raises(ConfigError, match="needs a model with an encoder") as info:
    runner.train_and_evaluate(config, str(tmp_path / "run"))
  assert "\n" not in str(info.value)
  assert not (tmp_path / "run").exists()
  proc = run_cli("train", "--config=configs/gan.py:smoke", "--config.data.resample=latent_density",
                 f"--workdir={tmp_path / 'cli'}")
  assert proc.returncode == 2
  errors = [l for l in proc.stderr.splitlines() if l.startswith("genjax: error:")]
  assert len(errors) == 1 and "encoder" in errors[0] and "Traceback" not in proc.stderr


def test_bad_resample_settings_are_refused():
  with pytest.raises(ConfigError, match="data.resample='latent_densty'"):
    load("vae.py:digits", data__resample="latent_densty")
  with pytest.raises(ConfigError, match="resample_every=5 must be a multiple"):
    load("vae.py:digits", data__resample="latent_density", data__resample_every=5)
  for key, value, allowed in (("resample_k", 0, "positive integer"),
                              ("resample_active", 1.0, r"in \[0, 1\)"),
                              ("resample_max_ratio", 0.5, ">= 1")):
    refusal = f"data.{key}={value!r} is out of range.*{allowed}"
    with pytest.raises(ConfigError, match=refusal) as info:
      load("vae.py:digits", data__resample="latent_knn", **{f"data__{key}": value})
    assert "\n" not in str(info.value)


def test_knn_with_k_not_below_the_training_set_is_one_config_error(tmp_path):
  config = load("vae.py:digits", data__num_train=240, data__resample="latent_knn",
                data__resample_k=240)
  with pytest.raises(ConfigError, match="resample_k=240 must be below the 240 training examples"):
    runner.train_and_evaluate(config, str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()


# --- the rare class ----------------------------------------------------------------------

def test_rare_class_keeps_the_rounded_fraction_of_its_training_examples(data_cfg):
  full = digits.load(data_cfg(name="digits"), "train")
  cfg = data_cfg(name="digits")
  cfg.rare_class, cfg.rare_fraction = 8, 0.02
  train, test = gdata.load(cfg, "train"), gdata.load(cfg, "test")
  n8 = int(np.sum(full.arrays["label"] == 8))
  counts, full_counts = np.bincount(train.arrays["label"]), np.bincount(full.arrays["label"])
  assert counts[8] == round(0.02 * n8) == 3
  assert np.array_equal(np.delete(counts, 8), np.delete(full_counts, 8))
  assert len(test) == digits.NUM_TEST  # the test split is untouched
  again = gdata.load(cfg, "train")
  np.testing.assert_array_equal(train.arrays["x"], again.arrays["x"])  # deterministic
  kept = rare.kept_indices(full.arrays["label"], 8, 0.02)
  np.testing.assert_array_equal(train.arrays["x"], full.arrays["x"][kept])
  cfg.rare_fraction = 0.0
  assert 8 not in gdata.load(cfg, "train").arrays["label"]


def test_per_class_summary_by_hand():
  labels = np.array([0, 0, 1, 1, 2])
  m = np.array([1.0, 3.0, 2.0, 4.0, 10.0])
  out = per_class.summarise(labels, {"m": m}, 3, rare_class=2, score_N=m)
  assert (out["m_c0"], out["m_c1"], out["m_c2"], out["num_c2"]) == (2.0, 3.0, 10.0, 1)
  assert (out["rare_m"], out["common_m"], out["gap_m"], out["ratio_m"]) == (10.0, 2.5, 7.5, 4.0)
  # Class 0's scores (1, 3) beat the others' (2, 4, 10) in 1 of 6 pairs; class 2's in all.
  assert out["auroc_c0"] == pytest.approx(1 / 6) and out["rare_auroc"] == out["auroc_c2"] == 1.0
