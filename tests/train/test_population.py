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
from genjax.train import population, runner
from tests.conftest import (ROOT, assert_same_params, assert_within_summation_rounding, load,
                            read_metrics)

# One xdist worker runs this module: the solo runs every test compares with are computed once,
# not once per worker.
pytestmark = pytest.mark.xdist_group("test_population")

_SHORT = dict(train__num_steps=40, train__steps_per_call=5, train__log_every=10,
              train__checkpoint_every=20, train__eval_every=0, train__figure_every=0)
_MEMBERS = [dict(hparams__beta=1.0, seed=0), dict(hparams__beta=4.0, seed=1),
            dict(hparams__beta=0.5, seed=2)]
# The vmapped program sums in another order than the solo one, so its members equal their
# solo runs up to rounding, and only plain SGD keeps that rounding from growing over many
# steps (see conftest.assert_within_summation_rounding); its momentum is optim.b1 = 0.9.
_SGD = dict(optim__name="sgd")
_MOMENTUM = 0.9


def _configs(**extra):
  return [load("vae.py:toy2d", **dict(_SHORT, **extra), **m) for m in _MEMBERS]


@pytest.fixture(scope="module", autouse=True)
def _full_precision_matmuls():
  """Batched and unbatched TF32 matmuls round differently on GPUs; these tests compare
  semantics (each member is its solo run), so they run at full float32 precision. Set
  globally, not in a `with` block: the lanes' host threads see only global settings."""
  previous = jax.config.jax_default_matmul_precision
  jax.config.update("jax_default_matmul_precision", "highest")
  yield
  jax.config.update("jax_default_matmul_precision", previous)


def _solo(root, name, configs):
  return [runner.train_and_evaluate(c, str(root / f"{name}{i}")) for i, c in enumerate(configs)]


@pytest.fixture(scope="module")
def solo_runs(tmp_path_factory):
  """Each member alone: 40 Adam steps, and (SGD) its start, one step, and 40 steps."""
  root = tmp_path_factory.mktemp("solo")
  one = dict(train__steps_per_call=1, train__log_every=1, train__checkpoint_every=1)
  return {"adam": _solo(root, "adam", _configs()), "root": root,
          "start": _solo(root, "start", _configs(**_SGD, **one, train__num_steps=0)),
          "first": _solo(root, "first", _configs(**_SGD, **one, train__num_steps=1)),
          "first_adam": _solo(root, "first_adam", _configs(**one, train__num_steps=1)),
          "sgd": _solo(root, "sgd", _configs(**_SGD))}


def _assert_sgd_members_equal_solo(states, solo_runs, steps, members=range(len(_MEMBERS))):
  for i in members:
    assert int(states[i].step) == steps
    assert_within_summation_rounding(states[i], solo_runs["sgd"][i], solo_runs["start"][i],
                                     solo_runs["first"][i], steps, momentum=_MOMENTUM)


@pytest.mark.parametrize("optim", ["adam", "sgd"])
def test_one_vmapped_step_equals_each_members_solo_step_within_rounding(tmp_path, solo_runs, optim):
  """The property a population rests on: one step of the vmapped program is each member's
  own step (its hparams, key and batch), up to float32 summation order. Adam is checked here,
  at its first step, where a rounding difference cannot yet be amplified."""
  extra = dict(train__steps_per_call=1, train__log_every=1, train__checkpoint_every=1,
               train__num_steps=1, **(_SGD if optim == "sgd" else {}))
  states, errors = runner.train_members(_configs(**extra),
                                        [str(tmp_path / str(i)) for i in range(3)], mode="vmap")
  assert errors == [None] * 3
  solo = solo_runs["first" if optim == "sgd" else "first_adam"]
  for state, alone, start in zip(states, solo, solo_runs["start"]):
    assert int(state.step) == 1
    assert_within_summation_rounding(state, alone, start, alone, steps=1)


def test_looped_population_members_equal_their_solo_runs_exactly(tmp_path, solo_runs, monkeypatch):
  """The loop mode calls the one compiled solo step per member: bit for bit the solo runs,
  whatever the CPU (the same program), through 40 Adam steps. It runs in two lanes of
  unequal size (members 0-1 and 2 from two host threads at once): still one program."""
  traces = []
  original = vae.VAE.train_step
  monkeypatch.setattr(vae.VAE, "train_step",
                      lambda self, *a: traces.append(1) or original(self, *a))
  workdirs = [str(tmp_path / str(i)) for i in range(len(_MEMBERS))]
  states, errors = runner.train_members(_configs(), workdirs, mode="loop", lanes=2)
  assert errors == [None] * len(_MEMBERS)
  for i, (state, alone) in enumerate(zip(states, solo_runs["adam"])):
    assert int(state.step) == 40
    assert_same_params(state, alone)
    assert read_metrics(workdirs[i]) == read_metrics(str(solo_runs["root"] / f"adam{i}"))
  # One trace, however many members and calls: the shape pass in open_session and the
  # compiled step share it.
  assert len(traces) == 1
  with open(os.path.join(workdirs[0], "population.json")) as f:
    assert {k: v for k, v in json.load(f).items() if k != "seconds_per_call"} == {
        "mode": "loop", "lanes": 2, "population_size": 3}


@pytest.mark.parametrize("lanes", [1, 3])
def test_vmapped_population_members_equal_their_solo_runs(tmp_path, solo_runs, monkeypatch, lanes):
  """40 SGD steps vmapped: each member is its solo run up to the rounding of 40 steps, its
  logged losses too; one compiled program for all members and calls, whether all members
  are one group or each its own lane (three host threads at once)."""
  traces = []
  original = vae.VAE.train_step
  monkeypatch.setattr(vae.VAE, "train_step",
                      lambda self, *a: traces.append(1) or original(self, *a))
  workdirs = [str(tmp_path / str(i)) for i in range(len(_MEMBERS))]
  states, errors = runner.train_members(_configs(**_SGD), workdirs, mode="vmap", lanes=lanes)
  assert errors == [None] * len(_MEMBERS)
  _assert_sgd_members_equal_solo(states, solo_runs, 40)
  for i in range(len(_MEMBERS)):
    mine, theirs = read_metrics(workdirs[i]), read_metrics(str(solo_runs["root"] / f"sgd{i}"))
    assert [r["step"] for r in mine] == [r["step"] for r in theirs]
    # A loss is a forward sum over the batch: relative rounding ~ K * u, far below 1e-4.
    np.testing.assert_allclose([r["loss"] for r in mine], [r["loss"] for r in theirs], rtol=1e-4)
  assert len(traces) == 1
  with open(os.path.join(workdirs[0], "population.json")) as f:
    decision = json.load(f)
  assert (decision["mode"], decision["lanes"]) == ("vmap", lanes)


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
                                   workdirs, mode="loop")
  assert len(streams) == 2 + 1 + 1  # one stream per population run, not one per member
  for state, alone in zip(states, solo):
    assert_same_params(state, alone)


def test_a_population_resumes_whatever_the_mode(tmp_path, solo_runs):
  """Half the steps vmapped, the rest looped: still each member's solo run (SGD, up to the
  rounding of the vmapped half); switching modes hands every member its own state. The
  relaunch, asking no lanes, keeps the three that the first launch recorded."""
  workdirs = [str(tmp_path / str(i)) for i in range(len(_MEMBERS))]
  runner.train_members(_configs(**_SGD, train__num_steps=20), workdirs, mode="vmap", lanes=3)
  states, _ = runner.train_members(_configs(**_SGD), workdirs, mode="loop")
  _assert_sgd_members_equal_solo(states, solo_runs, 40)
  with open(os.path.join(workdirs[2], "population.json")) as f:
    decision = json.load(f)
  assert (decision["mode"], decision["lanes"]) == ("loop", 3)


def test_auto_mode_reports_its_choice_and_a_relaunch_keeps_it(tmp_path, capsys):
  configs = [load("vae.py:toy2d", **dict(_SHORT, train__num_steps=60, train__log_every=60,
                                          train__checkpoint_every=60), **m) for m in _MEMBERS]
  workdirs = [str(tmp_path / str(i)) for i in range(len(_MEMBERS))]
  runner.train_members(configs, workdirs, mode="auto")
  with open(os.path.join(workdirs[1], "population.json")) as f:
    decision = json.load(f)
  assert decision["mode"] in ("vmap", "loop") and decision["population_size"] == 3
  assert decision["lanes"] == population.default_lanes(3)
  assert set(decision["seconds_per_call"]) == {"vmap", "loop"}
  assert decision["mode"] == min(decision["seconds_per_call"], key=decision["seconds_per_call"].get)
  # A relaunch (here: more steps) steps in the recorded mode and lanes instead of timing
  # again, even where the timing would now choose otherwise: say the record holds another.
  other = "loop" if decision["mode"] == "vmap" else "vmap"
  for workdir in workdirs:
    with open(os.path.join(workdir, "population.json"), "w") as f:
      json.dump(dict(decision, mode=other, lanes=3), f)
  more = [load("vae.py:toy2d", **dict(_SHORT, train__num_steps=120, train__log_every=60,
                                       train__checkpoint_every=60), **m) for m in _MEMBERS]
  runner.train_members(more, workdirs, mode="auto")
  assert f"population stepping: {other} in 3 lane(s), as recorded" in capsys.readouterr().out
  with open(os.path.join(workdirs[0], "population.json")) as f:
    decision = json.load(f)
  assert (decision["mode"], decision["lanes"]) == (other, 3)


@pytest.mark.parametrize("size, cores, lanes", [(8, 2, 2), (8, 4, 4), (6, 4, 3), (3, 2, 1),
                                                (3, 8, 3), (7, 4, 1), (1, 2, 1)])
def test_default_lanes_are_the_largest_divisor_of_the_population_within_the_cores(
    monkeypatch, size, cores, lanes):
  """Equal groups (one compiled program), no more host threads than cores."""
  monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
  assert jax.device_count() == 1 and jax.default_backend() == "cpu"
  assert population.default_lanes(size) == lanes


def test_a_bad_mode_or_lane_count_is_refused_before_anything_is_written(tmp_path):
  workdirs = [str(tmp_path / "a"), str(tmp_path / "b")]
  with pytest.raises(ConfigError, match="--population_lanes=-1 is negative"):
    runner.train_members(_configs()[:2], workdirs, mode="loop", lanes=-1)
  with pytest.raises(ConfigError, match="--population_mode=pmap is unknown"):
    runner.train_members(_configs()[:2], workdirs, mode="pmap")
  assert os.listdir(tmp_path) == []


def test_a_diverging_member_fails_alone(tmp_path, solo_runs):
  configs = _configs(**_SGD)
  configs[1] = load("vae.py:toy2d", **_SHORT, **_SGD, hparams__beta=1e38, seed=1)  # KL overflows
  workdirs = [str(tmp_path / str(i)) for i in range(3)]
  states, errors = runner.train_members(configs, workdirs, mode="vmap")
  assert isinstance(errors[1], TrainingDiverged) and states[1] is None
  assert "NaN/Inf" in str(errors[1])
  assert errors[0] is None and errors[2] is None
  _assert_sgd_members_equal_solo(states, solo_runs, 40, members=(0, 2))


def test_members_differing_beyond_hparams_and_seed_are_refused(tmp_path):
  configs = _configs()
  configs[2] = load("vae.py:toy2d", **_SHORT, model__latent_dim=3)
  with pytest.raises(ConfigError, match="model.latent_dim"):
    runner.train_members(configs, [str(tmp_path / str(i)) for i in range(3)], mode="vmap")


def test_population_sharded_over_four_devices_equals_solo_runs_within_rounding(tmp_path):
  script = os.path.join(ROOT, "tests", "train", "four_device_population.py")
  out = subprocess.run([sys.executable, script, os.path.join(ROOT, "configs", "vae.py:toy2d"),
                        str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, JAX_PLATFORMS="cpu"))
  assert out.returncode == 0, out.stderr[-2000:]
  result = json.loads(out.stdout.strip().splitlines()[-1])
  assert result["devices"] == 4 and result["population_sharded"] and not result["errors"]
  assert result["lanes_refusal"].startswith("--population_lanes=2 needs a one-device run")
  # Each solo run splits its batch over the 4 devices and sums their gradients; the sharded
  # population holds each member whole on one device: another summation order (SGD steps).
  assert result["worst_over_bound"] <= 1.0, result
