"""Populations: each member equals its solo run, one compilation, members fail alone."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from genjax.data import pipeline
from genjax.errors import ConfigError, TrainingDiverged
from genjax.models import vae
from genjax.train import runner
from tests.conftest import ROOT, assert_same_params, load, read_metrics

_SHORT = dict(train__num_steps=40, train__steps_per_call=5, train__log_every=10,
              train__checkpoint_every=20, train__eval_every=0, train__figure_every=0)
_MEMBERS = [dict(hparams__beta=1.0, seed=0), dict(hparams__beta=4.0, seed=1),
            dict(hparams__beta=0.5, seed=2)]


def _configs(**extra):
  return [load("vae.py:toy2d", **_SHORT, **m, **extra) for m in _MEMBERS]


@pytest.fixture(scope="module", autouse=True)
def _full_precision_matmuls():
  """Batched and unbatched TF32 matmuls round differently on GPUs; these tests compare
  semantics (each member is its solo run), so they run at full float32 precision."""
  with jax.default_matmul_precision("highest"):
    yield


@pytest.fixture(scope="module")
def solo_runs(tmp_path_factory):
  root = tmp_path_factory.mktemp("solo")
  return [runner.train_and_evaluate(c, str(root / str(i))) for i, c in enumerate(_configs())], root


@pytest.mark.parametrize("mode", ["vmap", "loop"])
def test_population_members_equal_their_solo_runs(tmp_path, solo_runs, mode, monkeypatch):
  traces = []
  original = vae.VAE.train_step
  monkeypatch.setattr(vae.VAE, "train_step",
                      lambda self, *a: traces.append(1) or original(self, *a))
  workdirs = [str(tmp_path / str(i)) for i in range(len(_MEMBERS))]
  states, errors = runner.train_members(_configs(), workdirs, mode=mode)
  assert errors == [None] * len(_MEMBERS)
  solo, root = solo_runs
  for i, (state, alone) in enumerate(zip(states, solo)):
    assert int(state.step) == 40
    assert_same_params(state, alone, rtol=2e-5, atol=2e-6)
    mine, theirs = read_metrics(workdirs[i]), read_metrics(str(root / str(i)))
    assert [r["step"] for r in mine] == [r["step"] for r in theirs]
    np.testing.assert_allclose([r["loss"] for r in mine], [r["loss"] for r in theirs], rtol=1e-4)
  # One trace for the shapes (eval_shape in open_session) and one for the compiled step,
  # however many members and calls: the population is one program (or one shared step).
  assert len(traces) == 2
  with open(os.path.join(workdirs[0], "population.json")) as f:
    assert json.load(f)["mode"] == mode


def test_members_with_one_seed_share_one_stream_and_still_equal_their_solo_runs(
    tmp_path, monkeypatch):
  """beta 1 and beta 4 at seed 0 read one stream of batches; each is still its solo run,
  through a resume in the middle (the shared stream's restored state holds for both)."""
  shared = [dict(hparams__beta=1.0, seed=0), dict(hparams__beta=4.0, seed=0)]
  streams = []
  original = pipeline.TrainBatches.__init__
  monkeypatch.setattr(pipeline.TrainBatches, "__init__",
                      lambda self, *a, **k: streams.append(1) or original(self, *a, **k))
  solo = [runner.train_and_evaluate(load("vae.py:toy2d", **_SHORT, **m), str(tmp_path / f"s{i}"))
          for i, m in enumerate(shared)]
  assert len(streams) == 2
  workdirs = [str(tmp_path / str(i)) for i in range(2)]
  runner.train_members([load("vae.py:toy2d", **dict(_SHORT, train__num_steps=20), **m)
                        for m in shared], workdirs, mode="loop")
  states, _ = runner.train_members([load("vae.py:toy2d", **_SHORT, **m) for m in shared],
                                   workdirs, mode="vmap")
  assert len(streams) == 2 + 1 + 1  # one stream per population run, not one per member
  for state, alone in zip(states, solo):
    assert_same_params(state, alone, rtol=2e-5, atol=2e-6)


def test_a_population_resumes_exactly_whatever_the_mode(tmp_path, solo_runs):
  """Half the steps vmapped, the rest looped: still each member's solo run."""
  workdirs = [str(tmp_path / str(i)) for i in range(len(_MEMBERS))]
  half = [load("vae.py:toy2d", **dict(_SHORT, train__num_steps=20), **m) for m in _MEMBERS]
  runner.train_members(half, workdirs, mode="vmap")
  states, _ = runner.train_members(_configs(), workdirs, mode="loop")
  solo, _ = solo_runs
  for state, alone in zip(states, solo):
    assert_same_params(state, alone, rtol=2e-5, atol=2e-6)


def test_auto_mode_reports_its_choice(tmp_path):
  configs = [load("vae.py:toy2d", **dict(_SHORT, train__num_steps=60, train__log_every=60,
                                          train__checkpoint_every=60), **m) for m in _MEMBERS]
  workdirs = [str(tmp_path / str(i)) for i in range(len(_MEMBERS))]
  runner.train_members(configs, workdirs, mode="auto")
  with open(os.path.join(workdirs[1], "population.json")) as f:
    decision = json.load(f)
  assert decision["mode"] in ("vmap", "loop") and decision["population_size"] == 3
  assert set(decision["seconds_per_call"]) == {"vmap", "loop"}
  assert decision["mode"] == min(decision["seconds_per_call"], key=decision["seconds_per_call"].get)


def test_a_diverging_member_fails_alone(tmp_path, solo_runs):
  configs = _configs()
  configs[1] = load("vae.py:toy2d", **_SHORT, hparams__beta=1e38, seed=1)  # beta * KL overflows
  workdirs = [str(tmp_path / str(i)) for i in range(3)]
  states, errors = runner.train_members(configs, workdirs, mode="vmap")
  assert isinstance(errors[1], TrainingDiverged) and states[1] is None
  assert "NaN/Inf" in str(errors[1])
  solo, _ = solo_runs
  for i in (0, 2):
    assert errors[i] is None
    assert_same_params(states[i], solo[i], rtol=2e-5, atol=2e-6)


def test_members_differing_beyond_hparams_and_seed_are_refused(tmp_path):
  configs = _configs()
  configs[2] = load("vae.py:toy2d", **_SHORT, model__latent_dim=3)
  with pytest.raises(ConfigError, match="model.latent_dim"):
    runner.train_members(configs, [str(tmp_path / str(i)) for i in range(3)], mode="vmap")


def test_population_sharded_over_four_devices_equals_solo_runs(tmp_path):
  script = os.path.join(ROOT, "tests", "train", "four_device_population.py")
  out = subprocess.run([sys.executable, script, os.path.join(ROOT, "configs", "vae.py:toy2d"),
                        str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert out.returncode == 0, out.stderr[-2000:]
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert result["devices"] == 4 and result["population_sharded"] and not result["errors"]
  assert result["max_abs_diff"] < 1e-5
