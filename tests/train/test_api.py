"""The Python API (genjax.train / genjax.load / Run) on one tiny trained VAE shared by the
module, and a missing capability's one-line refusal (a GAN family, built without training)."""
from __future__ import annotations

import json
import os
import types

import numpy as np
import pytest

import genjax
from genjax import data as gdata
from genjax import models
from genjax.errors import CapabilityError, CheckpointError, GenjaxError
from genjax.train import api
from tests.conftest import ROOT, load

# One xdist worker runs this module: the trained run is shared, not once per worker.
pytestmark = pytest.mark.xdist_group("test_api")

_STEPS = {"train.num_steps": 10, "train.eval_every": 0, "train.figure_every": 0}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """configs/vae.py:smoke trained for 10 steps (one checkpoint, at step 10)."""
  workdir = str(tmp_path_factory.mktemp("api_vae"))
  return genjax.train(os.path.join(ROOT, "configs", "vae.py:smoke"), workdir, _STEPS)


def test_train_returns_the_run_at_its_last_step_and_load_reopens_it(run):
  assert (run.family, run.step, run.info.x_shape) == ("vae", 10, (16, 16, 1))
  again = genjax.load(run.workdir, step=10)
  np.testing.assert_array_equal(again.sample(3, seed=5), run.sample(3, seed=5))


def test_a_step_without_a_checkpoint_is_one_error_naming_the_steps(run):
  with pytest.raises(CheckpointError, match=r"no checkpoint of step 3; it holds steps \[10\]"):
    genjax.load(run.workdir, step=3)


def test_train_takes_a_config_dict_and_leaves_it_unchanged(run, tmp_path):
  config = load("vae.py:smoke")
  before = config.to_json()
  resumed = genjax.train(config, run.workdir, _STEPS)  # the same run: resumed, nothing to do
  assert config.to_json() == before and resumed.step == 10


def test_sample_is_numpy_images_in_unit_range_and_deterministic_given_the_seed(run):
  x = run.sample(6, seed=1)
  assert isinstance(x, np.ndarray) and x.shape == (6, 16, 16, 1) and x.dtype == np.float32
  assert 0 <= x.min() and x.max() <= 1
  np.testing.assert_array_equal(x, run.sample(6, seed=1))
  assert not np.array_equal(x, run.sample(6, seed=2))


def test_encode_decode_and_reconstruct_compose(run):
  x = run.sample(5, seed=0)
  z = run.encode(x)
  assert z.shape == (5, 4) and z.dtype == np.float32
  np.testing.assert_allclose(run.reconstruct(x), run.decode(z), atol=1e-6)
  assert run.decode(z).shape == (5, 16, 16, 1)


def test_inputs_beyond_one_eval_batch_are_chunked_with_the_same_codes(run):
  x = run.sample(70, seed=3)  # eval_batch_size 64: a full chunk and a padded one
  np.testing.assert_allclose(run.encode(x)[64:], run.encode(x[64:]), atol=1e-5)


def test_uint8_images_are_read_as_values_over_255(run):
  x_uint8 = (run.sample(4, seed=0) > 0.5).astype(np.uint8) * 255
  np.testing.assert_allclose(run.encode(x_uint8), run.encode(x_uint8 / 255.0), atol=1e-6)


def test_log_prob_is_the_elbo_a_deterministic_lower_bound(run):
  x = run.sample(4, seed=0)
  log_px = run.log_prob(x, seed=0)
  assert not run.log_prob_is_exact
  assert log_px.shape == (4,) and np.all(np.isfinite(log_px)) and np.all(log_px < 0)
  np.testing.assert_array_equal(log_px, run.log_prob(x, seed=0))


def test_evaluate_returns_each_evaluators_numbers_and_writes_them(run):
  numbers = run.evaluate(["elbo"])["elbo"]
  assert np.isfinite(numbers["nelbo_nats"]) and numbers["num_examples"] == 128
  with open(os.path.join(run.workdir, "evals", "elbo.json")) as f:
    assert json.load(f)["metrics"]["nelbo_nats"] == numbers["nelbo_nats"]


@pytest.mark.parametrize("call,message", [
    (lambda r: r.encode(np.zeros((2, 8, 8, 1))), r"x has shape \(2, 8, 8, 1\); this model takes \[N, 16, 16, 1\]"),
    (lambda r: r.decode(np.zeros((2, 3))), r"z has shape \(2, 3\); this model's codes are \[N, 4\]"),
    (lambda r: r.sample(2, label=1), "needs a label-conditional model"),
    (lambda r: r.sample(0), "num must be a positive number"),
])
def test_bad_arguments_are_one_error_line(run, call, message):
  with pytest.raises(GenjaxError, match=message) as err:
    call(run)
  assert "\n" not in str(err.value)


def test_translate_on_a_vae_names_the_missing_translator(run):
  with pytest.raises(CapabilityError, match=r"run.translate\(\) needs Translator \(translate\), "
                     "which model family 'vae' lacks"):
    run.translate(run.sample(2))


def test_encode_on_a_gan_names_the_missing_encoder():
  config = load("gan.py:smoke")
  family = models.build_family(config, gdata.load(config.data, "train").info)
  sess = types.SimpleNamespace(workdir="unused", config=config)
  gan = api.Run(sess, types.SimpleNamespace(step=0, info=None, family=family))
  with pytest.raises(CapabilityError) as err:
    gan.encode(np.zeros((2, 2), np.float32))
  assert str(err.value) == ("run.encode() needs Encoder (encode), which model family 'gan' "
                            "lacks; load a run of a family that has it")
