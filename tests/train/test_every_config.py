"""Every variant of every config file in configs/ is built as `genjax train` builds it, and
one variant per evaluator path (family, conditioning, evaluators) trains two steps WITH its
evaluators on.

A variant that cannot run its own evaluators (the autoencoder once inherited the VAE's
`elbo`, which needs a prior) fails here instead of in a user's first eval. Sizes shrink
through ordinary overrides (tiny nets, 16x16 images, few examples), the evaluators'
sample counts too; variants reading a dataset file get a small one written in its authors'
format.
"""
from __future__ import annotations

import glob
import math
import os
from unittest import mock

import numpy as np
import pytest

from genjax import config as gconfig
from genjax.data import file_testing as ft
from tests.conftest import ROOT, read_metrics

CONFIG_FILES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "configs", "*.py")))

# Applied where the variant has the key: two steps, every interval due at step 2.
SHRINK = {
    "train.num_steps": 2, "train.steps_per_call": 1, "train.log_every": 2,
    "train.checkpoint_every": 2, "train.eval_every": 2, "train.figure_every": 2,
    "train.num_figure_samples": 4,
    "data.resolution": 16, "data.batch_size": 8, "data.eval_batch_size": 8,
    "data.num_eval": 16, "data.num_test": 16,
    "model.latent_dim": 4, "model.channels": 4, "model.hidden": 16, "model.widths": (16, 16),
    "model.disc_widths": (16,), "model.disc_channels": 4, "model.disc_layers": 1,
    "model.num_blocks": 1, "model.pool_size": 3, "model.channel_mults": (1,),
    "model.timesteps": 50, "model.sample_steps": 5, "model.nll_chunk": 25,
}
# Evaluator options with a cost, where the evaluator has them.
SHRINK_EVALS = {"num_samples": 64, "num_examples": 16, "num_train": 32, "num_values": 3}


def variant_names(config_file: str) -> list[str]:
  """The variants a config file offers: the dict its get_config hands to pick_variant."""
  seen = {}
  module = gconfig.load_user_module(os.path.join(ROOT, "configs", config_file), "config", "")
  with mock.patch.object(gconfig, "pick_variant", lambda arg, variants, default: seen.update(variants)):
    module.get_config(None)
  assert seen, f"{config_file}'s get_config does not pick its variant with gconfig.pick_variant"
  return sorted(seen)


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
  """Small files in the authors' formats for the variants that read one."""
  root = tmp_path_factory.mktemp("field_data")
  ft.write_dsprites(str(root / "dsprites.npz"), (1, 3, 2, 4, 4, 4), side=16)
  ft.write_shapes3d(str(root / "3dshapes.h5"), (2, 2, 2, 2, 2, 2), side=16)
  mpi3d_sizes = (2, 2, 2, 2, 1, 2, 2)
  ft.write_mpi3d(str(root / "mpi3d_toy.npz"), mpi3d_sizes, side=16)
  from PIL import Image  # pylint: disable=g-import-not-at-top
  (root / "pngs").mkdir()
  rng = np.random.default_rng(0)
  for i in range(48):
    Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(root / "pngs" / f"{i}.png")
  return {
      "dsprites": {"data.path": str(root / "dsprites.npz")},
      "shapes3d": {"data.path": str(root / "3dshapes.h5")},
      "mpi3d": {"data.path": str(root / "mpi3d_toy.npz"), "data.factor_sizes": mpi3d_sizes},
      "folder": {"data.path": str(root / "pngs")},
      "tfds:celeb_a": {"data.data_dir": _celeb_a(str(root / "tfds"))},
      "cache_dir": str(root / "cache"),
  }


def _celeb_a(data_dir: str) -> str:
  from genjax.data import tfds_testing  # pylint: disable=g-import-not-at-top  # imports tfds
  tfds_testing.build_factor_dataset(data_dir, "celeb_a", "2.1.0", (22, 18, 3), {},
                                    {"train": np.arange(32), "test": np.arange(32, 48)},
                                    attributes=("Bald", "Male", "Smiling"))
  return data_dir


def shrunk(config_file: str, variant: str, files: dict):
  """The variant through load_config (as `genjax train` loads it) with the shrinking overrides."""
  spec = os.path.join(ROOT, "configs", f"{config_file}:{variant}")
  flat = gconfig.flatten(gconfig.load_config(spec))
  overrides = {k: v for k, v in SHRINK.items() if k in flat}
  overrides.update(files.get(flat["data.name"], {}))
  if flat["data.name"] in files:
    overrides["data.cache_dir"] = files["cache_dir"]
  config = gconfig.load_config(spec, {k: repr(v) if not isinstance(v, str) else v
                                      for k, v in overrides.items()})
  for ev in config.evals.values():
    for option, value in SHRINK_EVALS.items():
      if option in ev:
        ev[option] = value
    if ev.type == "class_modes":
      ev.cache_dir = files["cache_dir"]
      _short_judge(config, ev)
  return config


def _short_judge(config, ev) -> None:
  """class_modes judges samples with a digits classifier that it trains (2,000 steps) on
  first use into its cache: give it one trained for one dispatch instead (the fingerprint
  ignores train.num_steps, so the evaluator takes it for its own)."""
  from genjax.train import judge, runner  # pylint: disable=g-import-not-at-top
  clf, workdir = judge.judge_run(8 * config.data.upscale, ev)
  if not os.path.exists(os.path.join(workdir, "evals", "accuracy.json")):
    clf.train.num_steps = clf.train.steps_per_call
    runner.train_and_evaluate(clf, workdir)


def signature(config) -> tuple:
  """What decides which evaluator code paths a variant takes: its family, whether it is
  conditional, and its evaluators. Variants alike in these differ in sizes and data source
  only; every reader is trained on in tests/train/test_field_training.py and every net in
  the family tests, so one variant per signature trains here."""
  flat = gconfig.flatten(config)
  return (flat["model.family"], bool(flat.get("model.conditional")),
          tuple(sorted(e.type for e in config.evals.values())))


def cheapest_first(variants: list[str]) -> list[str]:
  """`smoke` (the tiny variant every config file has) trains for its signature."""
  return sorted(variants, key=lambda v: v != "smoke")


@pytest.mark.parametrize("config_file", CONFIG_FILES)
def test_every_variant_trains_with_its_evaluators(tmp_path, data_files, monkeypatch, config_file):
  """Each variant is validated as `genjax train` validates it; one variant per signature
  trains two steps and runs its evaluators (the others would compile the same programs)."""
  from genjax.train import runner  # pylint: disable=g-import-not-at-top  # jax: lazily
  monkeypatch.setenv("GENJAX_CACHE", data_files["cache_dir"])
  trained = set()
  for variant in cheapest_first(variant_names(config_file)):
    config = shrunk(config_file, variant, data_files)
    gconfig.validate(config)
    key = signature(config)
    if key in trained:  # still built as `train` builds it: family, shapes, evaluator sizes
      from genjax.train import session  # pylint: disable=g-import-not-at-top
      runner.check_before_start(session.open_session(config, str(tmp_path / variant)))
      assert not os.path.exists(tmp_path / variant)
      continue
    trained.add(key)
    workdir = str(tmp_path / variant)
    state = runner.train_and_evaluate(config, workdir)
    assert int(state.step) == 2, (config_file, variant)
    logged = read_metrics(workdir)
    assert logged and all(math.isfinite(v) for r in logged for k, v in r.items()
                          if isinstance(v, float)), (config_file, variant, logged)
    for name in config.evals:
      assert read_metrics(workdir, f"eval/{name}"), (config_file, variant, name)
      assert os.path.isfile(os.path.join(workdir, "evals", f"{name}.json")), (variant, name)
