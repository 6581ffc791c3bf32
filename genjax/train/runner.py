"""The one training loop: config -> data -> family -> (restore) -> compiled steps -> artifacts.

Every family trains here. The loop dispatches `steps_per_call` steps per compiled call
(a lax.scan), keeps a running metric accumulator on the device (fetched only every
`log_every` steps), evaluates, draws figures and checkpoints at their intervals, and
saves on SIGTERM/SIGINT so a preempted job resumes where it stopped.
"""
from __future__ import annotations

import os
import signal
import threading

import jax
import jax.numpy as jnp
import ml_collections

from genjax import config as gconfig
from genjax import evals as gevals
from genjax.data import pipeline
from genjax.errors import CheckpointError, TrainingDiverged
from genjax.train import figures, parallel
from genjax.train.log import MetricsLog, Progress
from genjax.train.session import TRAIN_STREAM, open_session
from genjax.train.state import TrainState


# ======================================================================================
# The run directory
# ======================================================================================

def prepare_workdir(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Creates the run directory or checks that it belongs to this config.

  A restart may change only the step count (to extend a run); anything else would mix
  two experiments in one directory, so it is refused, naming the differing keys.
  """
  path = os.path.join(workdir, "config.json")
  if os.path.exists(path):
    try:
      with open(path) as f:
        previous = gconfig.from_json(f.read())
    except ValueError:
      raise CheckpointError(f"{path} is not valid JSON; restore it or use a new --workdir") from None
    differing = [k for k in gconfig.differing_keys(previous, config)
                 if k not in gconfig.RESTART_MAY_CHANGE]
    if differing:
      shown = ", ".join(f"{k} ({_get(previous, k)!r} -> {_get(config, k)!r})" for k in differing[:5])
      raise CheckpointError(
          f"{workdir} holds a run with a different config: {shown}; use a new --workdir "
          "or the same config (only train.num_steps may change)")
  if jax.process_index() == 0:
    os.makedirs(workdir, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
      f.write(gconfig.to_json(config))
    os.replace(tmp, path)


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
# train_and_evaluate
# ======================================================================================

def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> TrainState:
  """Trains config's model into workdir (resuming if it holds a run); returns the state."""
  session = open_session(config, workdir)
  eval_names = gevals.resolve(list(config.evals), config.evals)
  prepare_workdir(config, workdir)
  mesh, replicated, hp, t = session.mesh, session.replicated, session.hp, config.train
  rng_train = session.rng(TRAIN_STREAM)

  # ---- restore or initialise --------------------------------------------------------
  checkpointer = session.checkpointer()
  batches = pipeline.TrainBatches(session.train, config.data.batch_size, config.seed,
                                  jax.process_index(), jax.process_count())
  restored = session.restore(checkpointer)
  if restored is not None:
    step, state, acc, data_state = restored
    batches.set_state(data_state)
    print(f"genjax: resuming {workdir} from step {step}", flush=True)
  else:
    step, state, acc = 0, session.init_state(), session.init_acc()
  log = MetricsLog(workdir, resume_step=step)
  ctx = session.eval_context(state, step)
  multistep = jax.jit(
      make_multistep(session.family.train_step), donate_argnums=(0, 4),
      in_shardings=(replicated, parallel.batch_sharding(mesh, 1), replicated, replicated,
                    replicated),
      out_shardings=(replicated, replicated))
  progress = Progress(t.num_steps, config.data.batch_size, step)
  stop = _StopSignal()
  last_saved = step

  def save(state, acc):
    nonlocal last_saved
    _, bad_step, bad_metric = read_accumulator(acc)
    _raise_if_diverged(bad_step, bad_metric, last_saved, checkpointer)
    checkpointer.save(step, state, acc, batches.get_state())
    last_saved = step

  # ---- the loop ---------------------------------------------------------------------
  try:
    with stop:
      while step < t.num_steps and not stop.requested:
        stacked = parallel.to_global(batches.next_stacked(t.steps_per_call),
                                     parallel.batch_sharding(mesh, 1))
        with jax.transfer_guard("disallow"):  # no hidden host<->device copies in the hot loop
          state, acc = multistep(state, stacked, rng_train, hp, acc)
        step += t.steps_per_call
        final = step >= t.num_steps
        if step % t.log_every == 0 or final:
          means, bad_step, bad_metric = read_accumulator(acc)
          _raise_if_diverged(bad_step, bad_metric, last_saved, checkpointer)
          log.write(step, "train", means)
          if jax.process_index() == 0:
            print(progress.line(step, means), flush=True)
          if step % t.log_every == 0:  # an off-grid final log keeps its window for a resume
            acc = reset_window(acc)
        ctx.state, ctx.step = state, step
        if t.eval_every and (step % t.eval_every == 0 or final):
          for name, numbers in gevals.run_evals(ctx, eval_names).items():
            log.write(step, f"eval/{name}", numbers)
        if t.figure_every and (step % t.figure_every == 0 or final):
          figures.write_figures(ctx)
        if step % t.checkpoint_every == 0 or final or stop.requested:
          save(state, acc)
      if stop.requested:
        checkpointer.wait()
        print(f"genjax: stopped by signal at step {step}; checkpoint saved, rerun the same "
              "command to resume", flush=True)
  finally:
    checkpointer.close()
    batches.close()
    log.close()
  return state


def _raise_if_diverged(bad_step: int, bad_metric: str, last_saved: int, checkpointer) -> None:
  if bad_step < 0:
    return
  checkpointer.wait()
  kept = f"the last good checkpoint (step {last_saved}) is intact" if last_saved else (
      "no checkpoint was written")
  raise TrainingDiverged(
      f"training diverged: metric '{bad_metric}' became NaN/Inf at step {bad_step}; {kept}; "
      "lower optim.learning_rate or set optim.grad_clip")


class _StopSignal:
  """Turns SIGTERM/SIGINT into a flag the loop checks (save, then exit cleanly)."""

  def __init__(self):
    self.requested = False
    self._previous = {}

  def _handle(self, signum, frame):
    del frame
    self.requested = True
    print(f"genjax: received signal {signum}; saving a checkpoint at the current step", flush=True)

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
