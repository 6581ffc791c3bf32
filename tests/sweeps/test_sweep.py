"""Sweeps: every member in its own run directory, relaunches skip, failures stay alone."""
from __future__ import annotations

import csv
import json
import os
import textwrap

import pytest

from genjax.errors import ConfigError
from genjax.sweeps import launch, report, spec
from tests.conftest import ROOT, read_metrics, run_cli

_BASE = {"train.num_steps": 20, "train.steps_per_call": 5, "train.log_every": 10,
         "train.checkpoint_every": 10, "train.eval_every": 20, "train.figure_every": 0,
         "data.num_eval": 2000, "evals": "{}"}


def _sweep_file(tmp_path, members: str, name="sweep.py") -> str:
  path = tmp_path / name
  path.write_text(textwrap.dedent(f"""\
      CONFIG = {os.path.join(ROOT, 'configs', 'vae.py') + ':toy2d'!r}
      def get_sweep():
        return {members}
      """))
  return str(path)


def _base(**extra):
  base = {k: v for k, v in _BASE.items() if k != "evals"}
  base.update(extra)
  return base


def test_member_names_spell_their_overrides():
  assert spec.member_name({"hparams.beta": 4.0, "seed": 1}) == "beta=4_seed=1"
  assert spec.member_name({"model.objective": "tcvae", "hparams.beta": 0.5}) == "objective=tcvae_beta=0.5"


def test_local_sweep_runs_members_then_skips_them_then_extends_them(tmp_path):
  path = _sweep_file(tmp_path, '[{"hparams.beta": b, "seed": 0} for b in (1.0, 4.0)]')
  root = str(tmp_path / "study")
  sweep = spec.load_sweep(path)
  outcomes = launch.launch(sweep, root, "local", _base())
  assert [(o.name, o.status) for o in outcomes] == [("beta=1_seed=0", "done"),
                                                    ("beta=4_seed=0", "done")]
  metrics = os.path.join(root, "beta=1_seed=0", "metrics.jsonl")
  before = os.path.getmtime(metrics)
  again = launch.launch(sweep, root, "local", _base())
  assert {o.status for o in again} == {"skipped"}
  assert os.path.getmtime(metrics) == before
  longer = launch.launch(sweep, root, "local", _base(**{"train.num_steps": 30}))
  assert {o.status for o in longer} == {"done"}
  steps = [r["step"] for r in read_metrics(os.path.join(root, "beta=1_seed=0"))]
  assert steps == [10, 20, 30]  # resumed from 20, not retrained


def test_a_bad_member_fails_alone_with_its_one_line_reason(tmp_path):
  path = _sweep_file(tmp_path, '[{"hparams.beta": 1.0}, {"hparams.betta": 2.0}, {"hparams.beta": -1.0}]')
  result = run_cli("sweep", f"--sweep={path}", f"--workdir={tmp_path / 'study'}",
                   *[f"--config.{k}={v}" for k, v in _base().items()])
  assert result.returncode == 2, result.stderr
  assert "Traceback" not in result.stderr + result.stdout
  assert "beta=1 " not in result.stdout and "1 done, 2 failed" in result.stdout
  assert "betta=2 failed: unknown config key 'config.hparams.betta'; did you mean" in result.stdout
  assert "beta=-1 failed: config.hparams.beta=-1.0 is out of range" in result.stdout
  assert result.stderr.strip().splitlines()[-1].startswith("genjax: error: 2 of 3 sweep members failed")
  with open(tmp_path / "study" / "betta=2" / "status.json") as f:
    assert json.load(f)["status"] == "failed"


def test_vectorized_sweep_writes_normal_run_directories_and_a_report(tmp_path):
  path = _sweep_file(tmp_path, '[{"hparams.beta": b, "seed": s} for b in (0.5, 2.0) for s in (0, 1)]')
  root = str(tmp_path / "study")
  outcomes = launch.launch(spec.load_sweep(path), root, "vectorized", _base(),
                           population_mode="vmap", population_lanes=2)
  assert {o.status for o in outcomes} == {"done"}
  for name in ("beta=0.5_seed=0", "beta=2_seed=1"):
    member = os.path.join(root, name)
    assert os.path.isdir(os.path.join(member, "checkpoints", "20"))
    assert os.path.isfile(os.path.join(member, "evals", "elbo.json"))
    with open(os.path.join(member, "population.json")) as f:
      assert json.load(f) == {"mode": "vmap", "lanes": 2, "population_size": 4}
  md = report.write_sweep_report(root)
  with open(os.path.join(root, "sweep.csv")) as f:
    rows = list(csv.DictReader(f))
  assert [r["name"] for r in rows] == ["beta=0.5_seed=0", "beta=0.5_seed=1", "beta=2_seed=0",
                                       "beta=2_seed=1"]
  assert all(float(r["elbo.kl_nats"]) > 0 for r in rows)
  # More weight on the KL term buys a smaller KL (the beta-VAE trade-off, even at 20 steps).
  kl = {b: sum(float(r["elbo.kl_nats"]) for r in rows if r["hparams.beta"] == b) for b in ("0.5", "2.0")}
  assert kl["2.0"] < kl["0.5"]
  assert os.path.isfile(os.path.join(root, "sweep_beta.png"))
  with open(md) as f:
    text = f.read()
  assert "| beta" in text.replace("hparams.", "") and "sweep_beta.png" in text


def test_members_that_differ_in_model_form_separate_populations(tmp_path):
  path = _sweep_file(tmp_path, '[{"model.latent_dim": d, "seed": 0} for d in (2, 3)]')
  outcomes = launch.launch(spec.load_sweep(path), str(tmp_path / "s"), "vectorized", _base(),
                           population_mode="vmap")
  assert {o.status for o in outcomes} == {"done"}
  with open(tmp_path / "s" / "latent_dim=2_seed=0" / "config.json") as f:
    assert json.load(f)["model"]["latent_dim"] == 2
  assert not os.path.exists(tmp_path / "s" / "latent_dim=2_seed=0" / "population.json")


def test_slurm_launcher_runs_a_job_array_through_submitit(tmp_path):
  pytest.importorskip("submitit")
  path = _sweep_file(tmp_path, '[{"hparams.beta": b} for b in (1.0, 2.0)]')
  root = str(tmp_path / "study")
  outcomes = launch.launch(spec.load_sweep(path), root, "slurm", _base(),
                           slurm=launch.SlurmOptions(cluster="local"))
  assert [(o.name, o.status) for o in outcomes] == [("beta=1", "done"), ("beta=2", "done")]
  assert len(read_metrics(os.path.join(root, "beta=2"))) == 2
  assert os.path.isdir(os.path.join(root, "slurm"))


def test_local_processes_run_at_once(tmp_path):
  path = _sweep_file(tmp_path, '[{"seed": s} for s in (0, 1)]')
  root = str(tmp_path / "study")
  outcomes = launch.launch(spec.load_sweep(path), root, "local", _base(), parallel=2)
  assert [o.status for o in outcomes] == ["done", "done"]
  assert os.path.isfile(os.path.join(root, "seed=1", "train.log"))


def test_bad_sweep_files_are_one_line_errors(tmp_path):
  with pytest.raises(ConfigError, match="not found"):
    spec.load_sweep(str(tmp_path / "missing.py"))
  with pytest.raises(ConfigError, match="same member twice"):
    spec.load_sweep(_sweep_file(tmp_path, '[{"seed": 0}, {"seed": 0}]'))
  (tmp_path / "empty.py").write_text("CONFIG='x'\ndef get_sweep():\n  return []\n")
  with pytest.raises(ConfigError, match="non-empty list"):
    spec.load_sweep(str(tmp_path / "empty.py"))
  with pytest.raises(ConfigError, match="--launcher=cloud is unknown"):
    launch.launch(spec.load_sweep(_sweep_file(tmp_path, '[{"seed": 0}]')), str(tmp_path / "r"),
                  "cloud", {})
  with pytest.raises(ConfigError, match="--population_lanes=-2 is negative"):
    launch.launch(spec.load_sweep(_sweep_file(tmp_path, '[{"seed": 0}]')), str(tmp_path / "r"),
                  "vectorized", {}, population_lanes=-2)


def test_report_cells_show_a_spread_only_over_several_seeds():
  assert report._mean_std([0.25]) == "0.25"  # one seed: no made-up "± 0"
  assert report._mean_std([1.0, 3.0]) == "2 ± 1"  # population std over seeds
  assert report._mean_std([]) == ""


@pytest.mark.parametrize("launcher", ["local", "vectorized"])
def test_a_signal_stops_the_whole_sweep_not_one_member(tmp_path, monkeypatch, launcher):
  """The first member (or population) is stopped by a signal at step 5 of 20: the sweep
  starts nothing more, marks it stopped, and leaves the rest untouched for the relaunch."""
  import types  # pylint: disable=g-import-not-at-top
  from genjax.train import runner  # pylint: disable=g-import-not-at-top
  calls = []

  def stopped_early(configs, workdirs, mode="loop", lanes=0):
    calls.append(workdirs)
    for w in workdirs:
      os.makedirs(w, exist_ok=True)
    return [types.SimpleNamespace(step=5) for _ in configs], [None] * len(configs)

  monkeypatch.setattr(runner, "train_members", stopped_early)
  path = _sweep_file(  # two latent sizes: two populations under the vectorized launcher
      tmp_path, '[{"model.latent_dim": d, "hparams.beta": 1.0} for d in (2, 3)]')
  root = str(tmp_path / "study")
  outcomes = launch.launch(spec.load_sweep(path), root, launcher, _base())
  assert len(calls) == 1
  assert [o.status for o in outcomes] == ["stopped", "stopped"]
  assert "stopped at step 5 of 20" in outcomes[0].reason
  assert "not started" in outcomes[1].reason
  assert launch.read_status(os.path.join(root, "latent_dim=2_beta=1")) == {"status": "stopped",
                                                                         "step": 5}
  assert launch.read_status(os.path.join(root, "latent_dim=3_beta=1")) == {}
