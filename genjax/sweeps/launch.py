"""Launchers: run a sweep's members, skipping finished ones and isolating failures.

  local       members one after another in this process, or `parallel` processes at once
  vectorized  members that differ only in hparams and seed train as one population
              (genjax.train.population); other differences make separate populations
  slurm       a submitit job array, one task per member, requeued after preemption or
              timeout (`slurm_cluster='local'` runs the same tasks as local processes)

Every member writes the normal run directory plus `status.json` ({status, step, reason}),
so relaunching the same sweep skips members that finished their num_steps and resumes the
others from their checkpoints, and a member's failure is its one line in the summary.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time

from genjax import config as gconfig
from genjax.errors import ConfigError, GenjaxError
from genjax.sweeps.member import (STATUS_FILE, Outcome, failed, finished, train_member,
                                   write_json)
from genjax.sweeps.spec import Member, Sweep
from genjax.train import population, tracking
from genjax.train.tracking import SWEEP_FILE  # members find their sweep (wandb group) by it

LAUNCHERS = ("local", "vectorized", "slurm")


@dataclasses.dataclass(frozen=True)
class SlurmOptions:
  cluster: str = "slurm"  # 'local' runs the array on this machine through submitit
  partition: str = ""
  timeout_min: int = 240
  gpus_per_task: int = 0
  array_parallelism: int = 64
  wait: bool = True


def launch(sweep: Sweep, root: str, launcher: str, base_overrides: dict, parallel: int = 1,
           population_mode: str = "auto", population_lanes: int = 0,
           slurm: SlurmOptions | None = None) -> list[Outcome]:
  """Runs every unfinished member of `sweep` under `root`; returns one outcome per member."""
  if launcher not in LAUNCHERS:
    raise ConfigError(f"--launcher={launcher} is unknown; use one of {', '.join(LAUNCHERS)}")
  if parallel < 1:
    raise ConfigError(f"--parallel={parallel} must be at least 1")
  population.check_settings(population_mode, population_lanes)
  _check_tracking(sweep, base_overrides)
  os.makedirs(root, exist_ok=True)
  write_json(os.path.join(root, SWEEP_FILE), {
      "sweep": sweep.path, "config": sweep.config, "base_overrides": base_overrides,
      "members": [{"name": m.name, "overrides": m.overrides}
                  for m in sweep.listed or sweep.members]})
  outcomes: dict[str, Outcome] = {}
  todo: list[tuple[Member, object, str]] = []
  for member in sweep.members:
    workdir = os.path.join(root, member.name)
    try:
      config = gconfig.load_config(sweep.config, member.all_overrides(base_overrides))
    except GenjaxError as e:
      outcomes[member.name] = failed(workdir, member.name, str(e), step=0)
      continue
    status = read_status(workdir)
    if status.get("status") == "done" and status.get("step", -1) >= config.train.num_steps:
      outcomes[member.name] = Outcome(member.name, "skipped")
    else:
      todo.append((member, config, workdir))
  if todo:
    print(f"genjax: sweep {os.path.basename(os.path.normpath(root))}: {len(todo)} member(s) to "
          f"run, {len(outcomes)} finished or refused; launcher {launcher}", flush=True)
  run = {"local": _run_local, "vectorized": _run_vectorized, "slurm": _run_slurm}[launcher]
  for outcome in run(sweep, todo, base_overrides, parallel=parallel,
                     population_mode=population_mode, population_lanes=population_lanes,
                     slurm=slurm or SlurmOptions()):
    outcomes[outcome.name] = outcome
  # A signal stops the whole sweep, not one member: whoever had not started stays so.
  return [outcomes.get(m.name) or Outcome(m.name, "stopped", "not started: the sweep stopped")
          for m in sweep.members]


def _check_tracking(sweep: Sweep, base_overrides: dict) -> None:
  """Refuses the sweep before anything is written when it asks for wandb without it."""
  try:
    config = gconfig.load_config(sweep.config, base_overrides)
  except GenjaxError:  # a bad base config fails each member alone, with its reason
    return
  tracking.check_available(config)


def read_status(workdir: str) -> dict:
  path = os.path.join(workdir, STATUS_FILE)
  if not os.path.isfile(path):
    return {}
  try:
    with open(path) as f:
      return json.load(f)
  except ValueError:
    return {}


def summary_lines(outcomes: list[Outcome]) -> list[str]:
  counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "stopped",
                                                                "failed", "submitted")}
  lines = [f"genjax: sweep: {len(outcomes)} members: " + ", ".join(
      f"{n} {s}" for s, n in counts.items() if n)]
  lines += [f"genjax:   {o.name} failed: {o.reason}" for o in outcomes if o.status == "failed"]
  return lines


# --- launchers -------------------------------------------------------------------------

def _run_local(sweep: Sweep, todo, base_overrides, parallel: int, **_) -> list[Outcome]:
  if parallel > 1:
    return _run_processes(sweep, todo, base_overrides, parallel)
  outcomes = []
  for member, _, workdir in todo:
    outcomes.append(train_member(sweep.config, member.all_overrides(base_overrides), workdir,
                                 member.name))
    if outcomes[-1].status == "stopped":  # a signal: stop the sweep, resume on relaunch
      break
  return outcomes


def _run_processes(sweep: Sweep, todo, base_overrides, parallel: int) -> list[Outcome]:
  """`genjax train` per member, `parallel` at a time; each one's output in its train.log."""
  pending, running, outcomes = list(todo), [], []
  while pending or running:
    while pending and len(running) < parallel:
      member, _, workdir = pending.pop(0)
      os.makedirs(workdir, exist_ok=True)
      log = open(os.path.join(workdir, "train.log"), "a")
      args = [sys.executable, "-m", "genjax", "train", f"--config={sweep.config}",
              f"--workdir={workdir}"]
      args += [f"--config.{k}={_as_text(v)}" for k, v in member.all_overrides(base_overrides).items()]
      process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
      running.append((member, workdir, process, log))
    time.sleep(0.2)
    for entry in [r for r in running if r[2].poll() is not None]:
      running.remove(entry)
      member, workdir, process, log = entry
      log.close()
      if process.returncode == 0:  # finished, or stopped by a signal with a checkpoint
        with open(os.path.join(workdir, "config.json")) as f:
          steps = gconfig.from_json(f.read()).train.num_steps
        outcomes.append(finished(workdir, member.name, _checkpoint_step(workdir), steps))
        if outcomes[-1].status == "stopped":  # the signal reached the sweep: start no more
          pending.clear()
      else:
        outcomes.append(failed(workdir, member.name, _last_error(workdir, process.returncode)))
  return outcomes


def _checkpoint_step(workdir: str) -> int:
  """The step of a run directory's latest checkpoint (0 without one)."""
  path = os.path.join(workdir, "checkpoints")
  steps = [int(d) for d in os.listdir(path) if d.isdigit()] if os.path.isdir(path) else []
  return max(steps, default=0)


def _as_text(value) -> str:
  return value if isinstance(value, str) else repr(value)


def _last_error(workdir: str, returncode: int) -> str:
  with open(os.path.join(workdir, "train.log")) as f:
    lines = [line.strip() for line in f if line.strip()]
  errors = [line for line in lines if line.startswith("genjax: error:")]
  if errors:
    return errors[-1][len("genjax: error:"):].strip()
  return f"exit code {returncode}; see {os.path.join(workdir, 'train.log')}"


def _run_vectorized(sweep: Sweep, todo, base_overrides, population_mode: str,
                    population_lanes: int, **_) -> list[Outcome]:
  """One population per group of members whose configs agree outside hparams and seed."""
  from genjax.train import runner  # pylint: disable=g-import-not-at-top
  groups: dict[str, list] = {}
  for entry in todo:
    groups.setdefault(_shape_key(entry[1]), []).append(entry)
  outcomes = []
  for group in groups.values():
    members, configs, workdirs = zip(*group)
    print(f"genjax: population of {len(group)}: {', '.join(m.name for m in members)}", flush=True)
    try:
      states, errors = runner.train_members(list(configs), list(workdirs), mode=population_mode,
                                            lanes=population_lanes)
    except GenjaxError as e:
      outcomes += [failed(w, m.name, str(e)) for m, w in zip(members, workdirs)]
      continue
    for member, config, workdir, state, error in zip(members, configs, workdirs, states, errors):
      outcomes.append(failed(workdir, member.name, str(error)) if error is not None
                      else finished(workdir, member.name, int(state.step),
                                     config.train.num_steps))
    if any(o.status == "stopped" for o in outcomes):  # a signal: resume on relaunch
      break
  return outcomes


def _shape_key(config) -> str:
  flat = gconfig.flatten(json.loads(gconfig.to_json(config)))
  return json.dumps({k: v for k, v in flat.items()
                     if not (k.startswith("hparams.") or k == "seed")}, sort_keys=True)


def _run_slurm(sweep: Sweep, todo, base_overrides, slurm: SlurmOptions, **_) -> list[Outcome]:
  """A submitit job array, one task per member; tasks requeue themselves when preempted."""
  try:
    import submitit  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ConfigError("--launcher=slurm needs submitit: pip install 'genjax[slurm]'") from None
  from genjax.sweeps.slurm_task import MemberTask  # pylint: disable=g-import-not-at-top
  if not todo:
    return []
  root = os.path.dirname(os.path.abspath(todo[0][2]))
  executor = submitit.AutoExecutor(folder=os.path.join(root, "slurm", "%j"),
                                   cluster=None if slurm.cluster == "slurm" else slurm.cluster)
  params = dict(timeout_min=slurm.timeout_min, slurm_array_parallelism=slurm.array_parallelism)
  if slurm.cluster == "slurm":
    params.update(slurm_partition=slurm.partition or None, gpus_per_node=slurm.gpus_per_task,
                  slurm_additional_parameters={"requeue": True})
    params = {k: v for k, v in params.items() if v is not None}
  executor.update_parameters(**params)
  jobs = executor.map_array(MemberTask(), [sweep.config] * len(todo),
                            [m.all_overrides(base_overrides) for m, _, _ in todo],
                            [w for _, _, w in todo], [m.name for m, _, _ in todo])
  print(f"genjax: submitted job array {jobs[0].job_id.split('_')[0]} ({len(jobs)} tasks); "
        f"logs in {os.path.join(root, 'slurm')}", flush=True)
  if not slurm.wait:
    return [Outcome(m.name, "submitted") for m, _, _ in todo]
  outcomes = []
  for (member, _, workdir), job in zip(todo, jobs):
    try:
      outcomes.append(job.result())
    except Exception as e:  # pylint: disable=broad-except  # the task died outside genjax
      outcomes.append(failed(workdir, member.name,
                              f"slurm task {job.job_id} failed: {str(e).splitlines()[-1][:200]}"))
  return outcomes
