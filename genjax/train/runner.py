"""The one training loop: config -> data -> family -> (restore) -> compiled steps -> artifacts.

Every family trains here. The loop dispatches `steps_per_call` steps per compiled call
(a lax.scan), keeps a running metric accumulator on the device (fetched only every
`log_every` steps), evaluates, draws figures and checkpoints at their intervals, and
saves on SIGTERM/SIGINT so a preempted job resumes where it stopped.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import threading

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from genjax import config as gconfig
from genjax import evals as gevals
from genjax.core.state import TrainState
from genjax.data import pipeline
from genjax.errors import CheckpointError, TrainingDiverged
from genjax.evals.context import EvalContext
from genjax.train import figures, judge, lock, population, resample, tracking
from genjax.train.checkpoint import Checkpointer
from genjax.train.log import MetricsLog, Progress
from genjax.train.session import TRAIN_STREAM, Session, open_session


# ======================================================================================
# The run directory
# ======================================================================================

def prepare_workdir(config: ml_collections.ConfigDict, workdir: str,
                    session: Session | None = None) -> None:
  """Creates the run directory or checks that it belongs to this config.

  A restart may change only the step count (to extend a run); anything else would mix
  two experiments in one directory, so it is refused, naming the differing keys. With
  `session`, everything that would refuse the run later (its evaluators, their sizes) is
  checked first, so a refused start leaves no config.json behind. A directory that cannot
  be written is refused in one line, and one this call created is removed again.
  """
  if session is not None:
    check_before_start(session)
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise CheckpointError(f"--workdir={workdir} is an existing file, not a directory; pass a "
                          "new or existing run directory")
  path = os.path.join(workdir, "config.json")
  if os.path.exists(path):
    try:
      with open(path) as f:
        previous = gconfig.from_json(f.read())
    except (ValueError, TypeError, AttributeError):
      raise CheckpointError(f"{path} is not valid JSON; restore it or use a new --workdir") from None
    differing = [k for k in gconfig.differing_keys(previous, config)
                 if k not in gconfig.RESTART_MAY_CHANGE]
    if differing:
      shown = ", ".join(f"{k} ({_get(previous, k)!r} -> {_get(config, k)!r})" for k in differing[:5])
      raise CheckpointError(
          f"{workdir} holds a run with a different config: {shown}; use a new --workdir "
          "or the same config (only train.num_steps may change)")
  if jax.process_index() == 0:
    _write_config(config, workdir, path)


def check_before_start(session: Session) -> None:
  """What would stop a run after its start, checked before its directory is touched: the
  tracking extra it asks for, the evaluators' names and, when they run during training,
  the held-out sizes they read."""
  config = session.config
  tracking.check_available(config)  # wandb asked for but not installed
  evals = gevals.resolve(list(config.evals), config.evals)
  _ = session.best  # train.keep_best names an evaluator that runs during training
  if config.train.eval_every:
    gevals.check_sizes(evals, config.data, len(session.test), session.test.info.name)


def _write_config(config: ml_collections.ConfigDict, workdir: str, path: str) -> None:
  """Writes config.json atomically; on an OSError (read-only, full, a file in the way) the
  directory is left as it was (removed again if this call created it) and one line says why."""
  created = not os.path.isdir(workdir)
  tmp = path + ".tmp"
  try:
    os.makedirs(workdir, exist_ok=True)
    with open(tmp, "w") as f:
      f.write(gconfig.to_json(config))
    os.replace(tmp, path)
  except OSError as e:
    with contextlib.suppress(OSError):
      os.remove(tmp)
    if created:
      with contextlib.suppress(OSError):
        os.rmdir(workdir)  # only if still empty
    raise CheckpointError(f"cannot write the run directory {workdir}: {e.strerror or e} "
                          f"({e.filename or path}); pass a --workdir on a writable filesystem "
                          "with free space") from None


def _get(config, dotted: str):
  return gconfig.flatten(config).get(dotted, "<absent>")


# ======================================================================================
# The compiled multi-step and its metric accumulator
# ======================================================================================

def accumulate(acc: dict, metrics: dict, step: jax.Array) -> dict:
  names = sorted(acc["sums"])
  finite = jnp.stack([jnp.all(jnp.isfinite(metrics[k])) for k in names])
  first_bad = (acc["bad_step"] < 0) & ~jnp.all(finite)
  return {"sums": {k: acc["sums"][k] + metrics[k].astype(jnp.float32) for k in names},
          "count": acc["count"] + 1,
          "bad_step": jnp.where(first_bad, step, acc["bad_step"]),
          "bad_metric": jnp.where(first_bad, jnp.argmin(finite), acc["bad_metric"])}


def reset_window(acc: dict) -> dict:
  """Zeroes the sums for the next logging window (called only when no step went bad)."""
  return acc | {"sums": jax.tree.map(jnp.zeros_like, acc["sums"]),
                "count": jnp.zeros_like(acc["count"])}


def make_multistep(train_step):
  """(state, batches[S, B, ...], rng, hp, acc) -> (state, acc): S steps in one dispatch.

  One step (S = 1) is called directly, not inside a loop: XLA:CPU runs convolution
  gradients inside a loop body about 50x slower (jax issue 12868), so convolutional
  configs keep train.steps_per_call = 1 and only small MLP configs scan several steps.
  """
  def one_step(state, acc, batch, rng, hp):
    state, metrics = train_step(state, batch, rng, hp)
    return state, accumulate(acc, metrics, state.step)

  def multistep(state, batches, rng, hp, acc):
    if jax.tree.leaves(batches)[0].shape[0] == 1:
      return one_step(state, acc, jax.tree.map(lambda b: b[0], batches), rng, hp)
    def body(carry, batch):
      return one_step(*carry, batch, rng, hp), None
    (state, acc), _ = jax.lax.scan(body, (state, acc), batches)
    return state, acc
  return multistep


def read_accumulator(acc: dict) -> tuple[dict[str, float], int, str]:
  """Fetches the window means, the first bad step (-1 if none) and that step's bad metric."""
  host = jax.device_get(acc)
  count = max(int(host["count"]), 1)
  means = {k: float(v) / count for k, v in host["sums"].items()}
  bad_metric = sorted(host["sums"])[int(host["bad_metric"])] if host["sums"] else ""
  return means, int(host["bad_step"]), bad_metric


# ======================================================================================
# train_and_evaluate: one run, or a population of members trained in lock-step
# ======================================================================================

@dataclasses.dataclass
class _Member:
  """One run directory of a (possibly one-member) population and its own I/O."""
  session: Session
  checkpointer: Checkpointer
  batches: pipeline.TrainBatches
  log: MetricsLog
  ctx: EvalContext
  last_saved: int = 0
  error: TrainingDiverged | None = None

  @property
  def workdir(self) -> str:
    return self.session.workdir


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> TrainState:
  """Trains config's model into workdir (resuming if it holds a run); returns the state."""
  (state,), (error,) = train_members([config], [workdir])
  if error is not None:
    raise error
  return state


def train_members(configs: list[ml_collections.ConfigDict], workdirs: list[str],
                  mode: str = "loop", lanes: int = 0
                  ) -> tuple[list[TrainState | None], list[Exception | None]]:
  """Trains members that differ only in hparams and seed, in lock-step, each into its workdir.

  Each member keeps the normal run-directory format (config, checkpoints, metrics, evals,
  figures), so `genjax eval/sample/report` and a later solo resume work on it. A member
  that diverges stops alone (its error is returned in its slot; the others go on).

  Args:
    configs: one config per member.
    workdirs: one run directory per member.
    mode: how to step several members: 'vmap', 'loop' or 'auto' (see population.py).
    lanes: host threads that step groups of members at once; 0: as many as the CPU has
      cores on a one-device CPU run, else 1 (see population.py).

  Returns:
    (final states, errors): per member, the state (None if it failed) and the error.
  """
  population.check_settings(mode, lanes)
  population.check_compatible(configs)
  eval_names = gevals.resolve(list(configs[0].evals), configs[0].evals)
  lead = open_session(configs[0], workdirs[0])  # writes nothing; starts multi-host JAX first
  population.check_lanes_fit(lanes, jax.device_count())
  sessions = [lead] + [lead.for_member(c, w) for c, w in zip(configs[1:], workdirs[1:])]
  resampler = resample.from_config(configs[0], lead.family, lead.train, lead.mesh)
  with lock.hold(workdirs):  # before anything in them is read or written
    return _train_sessions(sessions, resampler, eval_names, mode, lanes)


def _train_sessions(sessions: list[Session], resampler, eval_names: dict, mode: str,
                    lanes: int):
  """train_members for opened sessions, their run directories locked."""
  configs = [s.config for s in sessions]
  workdirs = [s.workdir for s in sessions]
  lead = sessions[0]
  for session in sessions:
    prepare_workdir(session.config, session.workdir, session)
  if configs[0].train.eval_every:  # judges are trained before the run, not inside an evaluator
    eval_names = judge.supply(eval_names, configs[0].data.name, int(lead.test.info.x_shape[0]),
                              train_and_evaluate)
  starts = [_latest_step(s) for s in sessions]
  if len(set(starts)) > 1:  # e.g. killed between two members' saves: step the groups apart
    return _train_by_start_step(configs, workdirs, mode, lanes, starts)
  members, packed_members, step = _open_members(sessions, share_streams=resampler is None)
  lock.record(workdirs)  # accepted: name this process to a second trainer
  t = configs[0].train
  multistep = make_multistep(lead.train_step)
  chooser = population.Chooser(
      mode, multistep, lead.mesh, len(members), [s.rng(TRAIN_STREAM) for s in sessions],
      [s.hp for s in sessions], calls_left=(t.num_steps - step) // t.steps_per_call,
      recorded=population.recorded_mode(workdirs, len(members)) if step else None,
      lanes=lanes)
  packed = chooser.stepper.pack(packed_members)
  progress = Progress(t.num_steps, configs[0].data.batch_size * len(members), step)
  stop = _StopSignal()

  try:
    with stop:
      stopping = False
      while step < t.num_steps and not stopping and _any_alive(members):
        batches = _draw(members, t.steps_per_call)
        packed = chooser.step(packed, batches, [m.error is None for m in members])
        step += t.steps_per_call
        final = step >= t.num_steps
        if step % t.log_every == 0 or final:
          for m in members:  # a background save that failed (a full disk) stops the run now
            m.checkpointer.check()
          _log(members, chooser.stepper.host_accs(packed), step, progress)
          if step % t.log_every == 0:  # an off-grid final log keeps its window for a resume
            packed = chooser.stepper.map_accs(packed, reset_window)
        if resampler is not None and resampler.due(step):  # before the save at this step
          _resample(members, chooser.stepper.unpack(packed), step, resampler)
        evals_due = t.eval_every and (step % t.eval_every == 0 or final)
        figures_due = t.figure_every and (step % t.figure_every == 0 or final)
        stopping = stop.agreed()
        save_due = (step % t.checkpoint_every == 0 or final or stopping
                    or (evals_due and lead.best is not None))  # a candidate for the best
        if evals_due or figures_due or save_due:
          _at_interval(members, chooser.stepper.unpack(packed), step, eval_names,
                       evals_due, figures_due, save_due)
      if stopping:
        for m in members:
          m.checkpointer.wait()
        print(f"genjax: stopped by signal at step {step}; checkpoint saved, rerun the same "
              "command to resume", flush=True)
  except BaseException:
    _close(members, raise_errors=False)  # the error in flight is the one to report
    raise
  finally:
    chooser.close()
  _close(members, raise_errors=True)
  if len(members) > 1:
    for m in members:
      population.write_decision(m.workdir, chooser.decision, len(members))
  final_states = [s for s, _ in chooser.stepper.unpack(packed)]
  return ([None if m.error else s for m, s in zip(members, final_states)],
          [m.error for m in members])


def _close(members: list[_Member], raise_errors: bool) -> None:
  """Waits for the members' saves and closes their files; a failed save raises (once)."""
  errors = []
  for m in members:
    try:
      m.checkpointer.close()
    except CheckpointError as e:
      errors.append(e)
    m.log.close()
  for stream in _streams(members):
    stream.close()
  if errors and raise_errors:
    raise errors[0]


def _latest_step(session: Session) -> int:
  checkpointer = session.checkpointer()
  try:
    steps = checkpointer.all_steps()
  finally:
    checkpointer.close()
  return steps[-1] if steps else 0


def _train_by_start_step(configs, workdirs, mode, lanes, starts):
  states, errors = [None] * len(configs), [None] * len(configs)
  for start in sorted(set(starts)):
    group = [i for i, s in enumerate(starts) if s == start]
    got_states, got_errors = train_members([configs[i] for i in group],
                                           [workdirs[i] for i in group], mode, lanes)
    for i, state, error in zip(group, got_states, got_errors):
      states[i], errors[i] = state, error
  return states, errors


def _open_members(sessions: list[Session], share_streams: bool = True):
  """Restores (or initialises) every member; returns them, their (state, acc) and the step.

  Members with the same seed and data config draw the same batches, so with
  `share_streams` they read one TrainBatches (each batch loaded or rendered once, not once
  per member; a beta grid x 3 seeds needs 3 streams). Resampling gives every member its
  own weights, hence its own stream. Shared streams are at the same step for every member
  (all restore at one step), so the first restored data state holds for all.
  """
  members, packed, steps = [], [], set()
  streams: dict[tuple, pipeline.TrainBatches] = {}
  for session in sessions:
    config = session.config
    checkpointer = session.checkpointer()
    key = (config.seed, config.data.to_json(sort_keys=True)) if share_streams else id(session)
    batches = streams.get(key)
    try:
      restored = session.restore(checkpointer)
    except BaseException:  # a refused restore (another config): close what is open, move nothing
      for opened in [checkpointer] + [m.checkpointer for m in members]:
        opened.close()
      raise
    if batches is None:
      batches = pipeline.TrainBatches(session.train, config.data.batch_size, config.seed,
                                      jax.process_index(), jax.process_count())
      if restored is not None:
        batches.set_state(restored[3])
      streams[key] = batches
    if restored is not None:
      step, state, acc, _ = restored
      print(f"genjax: resuming {session.workdir} from step {step}", flush=True)
    else:
      step, state, acc = 0, session.init_state(), session.init_acc()
    steps.add(step)
    ctx = session.eval_context(state, step)
    if members:  # share the lead's compiled evaluation functions
      ctx = dataclasses.replace(members[0].ctx, config=ctx.config, hp=ctx.hp, rng=ctx.rng,
                                workdir=ctx.workdir, state=ctx.state, step=step,
                                params=ctx.params)
    try:  # wandb may refuse to start (not logged in): close what is open
      log = MetricsLog(session.workdir, resume_step=step, config=config)
    except BaseException:
      for opened in [checkpointer] + [m.checkpointer for m in members]:
        opened.close()
      for m in members:
        m.log.close()
      raise
    members.append(_Member(session=session, checkpointer=checkpointer, batches=batches,
                           log=log, ctx=ctx, last_saved=step))
    packed.append((state, acc))
  if len(steps) != 1:
    raise CheckpointError(f"population members restored at different steps {sorted(steps)}")
  return members, packed, steps.pop()


def _streams(members: list[_Member]) -> list[pipeline.TrainBatches]:
  """The distinct batch streams of the members (several members may share one)."""
  return list({id(m.batches): m.batches for m in members}.values())


def _draw(members: list[_Member], steps: int) -> list[dict[str, np.ndarray]]:
  """Each member's next `steps` stacked batches, drawing once from a shared stream."""
  drawn = {id(stream): stream.next_stacked(steps) for stream in _streams(members)}
  return [drawn[id(m.batches)] for m in members]


def _any_alive(members: list[_Member]) -> bool:
  return any(m.error is None for m in members)


def _log(members: list[_Member], host_accs: list[dict], step: int, progress: Progress) -> None:
  """Writes each live member's window means; a member that went NaN stops alone."""
  shown = []
  for m, acc in zip(members, host_accs):
    if m.error is not None:
      continue
    means, bad_step, bad_metric = read_accumulator(acc)
    _check_diverged(m, bad_step, bad_metric, announce=len(members) > 1)
    if m.error is None:
      m.log.write(step, "train", means)
      shown.append(means)
  if len(members) == 1:
    if members[0].error is not None:
      raise members[0].error
  if shown and jax.process_index() == 0:
    means = {k: float(np.mean([s[k] for s in shown])) for k in shown[0]}
    prefix = "" if len(members) == 1 else f"[{len(shown)} members, mean] "
    print(prefix + progress.line(step, means), flush=True)


def _resample(members, unpacked, step: int, resampler: resample.Resampler) -> None:
  """Each live member's batches from now on drawn by its own latent-density weights."""
  for m, (state, _) in zip(members, unpacked):
    if m.error is None:
      m.log.write(step, "resample", resampler.update(state, step, m.batches))


def _at_interval(members, unpacked, step, eval_names, evals_due, figures_due, save_due) -> None:
  """Saves, then evaluates and draws: the save is on disk before an evaluator or a figure
  runs, so one that fails (a bad setting, memory) costs no training. With train.keep_best
  the evaluations come first and their metric is saved with the step (Orbax ranks the
  steps by it); an evaluator that fails still leaves the step saved, without a metric."""
  for m, (state, acc) in zip(members, unpacked):
    if m.error is not None:
      continue
    if save_due:
      _, bad_step, bad_metric = read_accumulator(jax.device_get(acc))
      _check_diverged(m, bad_step, bad_metric, announce=len(members) > 1)
      if m.error is not None:
        if len(members) == 1:
          raise m.error
        continue
    m.ctx.state, m.ctx.step = m.session.evaluated(state), step
    best, best_value = m.checkpointer.best, None
    if evals_due and best is not None:
      try:
        best_value = best.read(_evaluate(m, step, eval_names))
      except BaseException:
        if save_due:
          _save(m, step, state, acc, None, wait=True)
        raise
    if save_due:
      _save(m, step, state, acc, best_value, wait=evals_due or figures_due)
    if evals_due and best is None:
      _evaluate(m, step, eval_names)
    if figures_due:
      figures.write_figures(m.ctx)
    if evals_due or figures_due:  # the figures and evaluators' plots, as images
      m.log.figures(step)


def _save(m: _Member, step: int, state, acc, best_value: float | None, wait: bool) -> None:
  m.checkpointer.save(step, state, acc, m.batches.get_state(), best_value)
  m.last_saved = step
  if wait:
    m.checkpointer.wait()


def _evaluate(m: _Member, step: int, eval_names: dict) -> dict[str, dict]:
  """Runs the member's evaluators on m.ctx and logs their numbers; returns them."""
  results = gevals.run_evals(m.ctx, eval_names)
  for name, numbers in results.items():
    m.log.write(step, f"eval/{name}", numbers)
  return results


def _check_diverged(member: _Member, bad_step: int, bad_metric: str, announce: bool) -> None:
  """Records a member's first NaN/Inf (printing it when others go on); its checkpoints stay."""
  if bad_step < 0 or member.error is not None:
    return
  member.checkpointer.wait()
  kept = (f"the last good checkpoint (step {member.last_saved}) is intact" if member.last_saved
          else "no checkpoint was written")
  member.error = TrainingDiverged(
      f"training diverged: metric '{bad_metric}' became NaN/Inf at step {bad_step}; {kept}; "
      "lower optim.learning_rate or set optim.grad_clip")
  if announce:
    print(f"genjax: {member.workdir}: {member.error}", flush=True)


class _StopSignal:
  """Turns SIGTERM/SIGINT into a flag the loop checks (save, then exit cleanly)."""

  def __init__(self):
    self.requested = False
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    self.requested = True
    print(f"genjax: received signal {signum}; saving a checkpoint at the current step", flush=True)

  def agreed(self) -> bool:
    """Whether any process was signalled: hosts may see a signal at different steps, and
    all of them must stop (and save) at the same one or the collective save hangs."""
    if jax.process_count() == 1:
      return self.requested
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    return bool(np.any(multihost_utils.process_allgather(np.asarray(self.requested))))

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
