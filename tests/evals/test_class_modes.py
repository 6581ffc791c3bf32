"""Class coverage statistics, stacked digits, and the cached digits classifier (the judge)."""
from __future__ import annotations

import numpy as np
import pytest

from genjax.data import stacked_digits
from genjax.evals.class_modes import histogram_stats, judged_classes
from genjax.train import judge, runner
from tests.conftest import load


def test_histogram_stats_on_constructed_labels():
  one = histogram_stats(np.full(100, 3), 10)
  assert one["modes"] == 1 and one["kl_to_uniform"] == pytest.approx(np.log(10))
  spread = histogram_stats(np.arange(1000) % 10, 10)
  assert spread["modes"] == 10 and spread["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12)
  half = histogram_stats(np.arange(1000) % 5, 10)
  assert half["modes"] == 5 and half["kl_to_uniform"] == pytest.approx(np.log(2))


class _BrightnessJudge:
  """Stands in for the classifier: the class of an image is its mean value times 10."""

  def classes(self, x_NHW1):
    return np.floor(10 * x_NHW1.mean(axis=(1, 2, 3))).astype(int)


def test_judged_classes_reads_stacked_channels_as_digits_first_most_significant():
  x = np.zeros((2, 4, 4, 3))
  x[0, ..., 0], x[0, ..., 1], x[0, ..., 2] = 0.75, 0.05, 0.35  # digits 7, 0, 3
  x[1, ..., 2] = 0.95  # digits 0, 0, 9
  np.testing.assert_array_equal(judged_classes(_BrightnessJudge(), x), [703, 9])
  np.testing.assert_array_equal(judged_classes(_BrightnessJudge(), x[..., :1]), [7, 0])


def test_stacked_digits_channels_are_digits_with_a_three_digit_label():
  cfg = load("gan.py:stacked_digits").data
  source = stacked_digits.load(cfg, "test")
  single = load("gan.py:digits").data
  from genjax.data import digits  # pylint: disable=g-import-not-at-top
  d = digits.load(single, "test")
  batch = source.get_batch(np.arange(50))
  assert batch["x"].shape == (50, 16, 16, 3) and len(source) == 10_000
  for x, label in zip(batch["x"], batch["label"]):
    for c, digit in enumerate((label // 100, label // 10 % 10, label % 10)):
      match = np.all(d.arrays["x"][..., 0] == x[..., c], axis=(1, 2))
      assert match.any() and digit in d.arrays["label"][match]
  assert len(np.unique(source.get_batch(np.arange(len(source)))["label"])) > 990


def test_judge_is_trained_once_cached_and_accurate(tmp_path):
  cfg = {"cache_dir": str(tmp_path)}
  first = judge.digits_judge(8, cfg, runner.train_and_evaluate)
  assert first.accuracy > 0.9
  cached = judge.digits_judge(8, cfg, runner.train_and_evaluate)  # second call restores instead of training
  assert len(list(tmp_path.iterdir())) == 1
  test = load("vae.py:digits").data
  from genjax.data import digits  # pylint: disable=g-import-not-at-top
  held_out = digits.load(test, "test")
  predicted = cached.classes(held_out.arrays["x"])
  assert np.mean(predicted == held_out.arrays["label"]) == pytest.approx(first.accuracy)
