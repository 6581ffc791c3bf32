"""Checkpoints: Orbax CheckpointManager holding the train state, the metric accumulator,
the data-iterator position and a small JSON `meta` item together, one directory per step.

Saves are asynchronous and atomic (Orbax writes a tmp directory and renames it), so a run
killed mid-save still has its last complete step. `meta` holds the config fingerprint and a
checksum of every saved array, so a restore can tell a checkpoint written for another
config or model (refused in one line, nothing touched) from a damaged one (set aside, the
previous step used): only a step whose fingerprint and array shapes match but whose arrays
cannot be read, or read back other bytes than were saved, is damaged. A failed save (a
full disk) stops the run with one CheckpointError; earlier steps are never touched by it.
"""
from __future__ import annotations

import logging as py_logging
import os
import shutil
import sys
import traceback
from typing import Any
import warnings

from absl import logging
import jax
from jax.experimental import multihost_utils
import orbax.checkpoint as ocp

from genjax import config as gconfig
from genjax.errors import CheckpointError, ConfigError
from genjax.train import checksums

_ITEMS = ("state", "acc", "data", "meta")


class Checkpointer:
  """Saves and restores {'state', 'acc', 'data', 'meta'} under workdir/checkpoints.

  Args:
    workdir: the run directory.
    keep: how many of the newest steps to keep.
    fingerprint: the config fingerprint a restorable step must carry.
    read_only: for `eval`/`sample` (which may run beside a live `train`): never create,
      save, delete or move anything; a damaged step is skipped, not moved.
  """

  def __init__(self, workdir: str, keep: int, fingerprint: str, read_only: bool = False,
               best: "BestMetric | None" = None):
    self.directory = os.path.abspath(os.path.join(workdir, "checkpoints"))
    self.fingerprint = fingerprint
    self.read_only = read_only
    self.best = best
    self._pending: int | None = None  # the step of the save in flight, if any
    _quiet_orbax_errors()
    if best is None:
      options = ocp.CheckpointManagerOptions(
          max_to_keep=None if read_only else keep, enable_async_checkpointing=not read_only,
          create=not read_only)
    else:  # the newest `keep` steps and the best step with a metric
      policy = None if read_only else ocp.checkpoint_managers.AnyPreservationPolicy([
          ocp.checkpoint_managers.LatestN(n=keep),
          ocp.checkpoint_managers.BestN(get_metric_fn=best.value, reverse=best.mode == "min",
                                        n=1, keep_checkpoints_without_metrics=False)])
      options = ocp.CheckpointManagerOptions(
          best_fn=best.value, best_mode=best.mode, keep_checkpoints_without_metrics=False,
          preservation_policy=policy, enable_async_checkpointing=not read_only,
          create=not read_only)
    handlers = {"state": ocp.StandardCheckpointHandler(), "acc": ocp.StandardCheckpointHandler(),
                "data": ocp.JsonCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()}
    self._manager = ocp.CheckpointManager(self.directory, options=options, item_handlers=handlers)

  # ------------------------------------------------------------------------------------
  # Saving
  # ------------------------------------------------------------------------------------

  def save(self, step: int, state: Any, acc: Any, data_state: dict,
           best_value: float | None = None) -> None:
    """Starts an asynchronous save of `step` (after checking the previous one succeeded);
    `best_value` is the step's train.keep_best metric, if it was evaluated."""
    assert not self.read_only, "a read-only Checkpointer never saves"
    self.wait()
    meta = {"fingerprint": self.fingerprint, "step": int(step),
            "checksums": {"state": checksums.tree_checksums(state),
                          "acc": checksums.tree_checksums(acc),
                          "data": checksums.json_checksum(data_state)}}
    try:
      self._manager.save(step, args=ocp.args.Composite(
          state=ocp.args.StandardSave(state), acc=ocp.args.StandardSave(acc),
          data=ocp.args.JsonSave(data_state), meta=ocp.args.JsonSave(meta)),
          metrics=None if best_value is None else {self.best.key: float(best_value)})
    except Exception as e:  # pylint: disable=broad-except  # an unwritable or full disk
      raise self._save_failed(step, e) from None
    self._pending = step

  def check(self) -> None:
    """Raises CheckpointError if a background save has failed; never waits for one."""
    if self._pending is not None and not self._manager.is_saving_in_progress():
      self.wait()

  def wait(self) -> None:
    """Waits for the save in flight; raises CheckpointError if it failed."""
    try:
      self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      raise self._save_failed(self._pending, e) from None
    finally:
      self._pending = None

  def close(self) -> None:
    error = None
    try:
      self.wait()
    except CheckpointError as e:
      error = e
    try:
      self._manager.close()
    except Exception as e:  # pylint: disable=broad-except
      error = error or self._save_failed(None, e)
    if error is not None:
      raise error

  def _save_failed(self, step: int | None, error: Exception) -> CheckpointError:
    _AFTER_FAILED_SAVE[0] = True
    # The writes the failed save left behind are coroutines nobody will await; Python
    # warns of each when the interpreter exits, after our one line.
    warnings.filterwarnings("ignore", message=r"coroutine .* was never awaited",
                            category=RuntimeWarning)
    kept = sorted(int(n) for n in os.listdir(self.directory) if n.isdigit()) if os.path.isdir(
        self.directory) else []
    intact = (f"the earlier checkpoints (latest: step {kept[-1]}) are intact" if kept
              else "no earlier checkpoint exists")
    which = f"checkpoint step {step}" if step is not None else "a checkpoint"
    return CheckpointError(
        f"saving {which} to {self.directory} failed ({_cause(error)}); the run stopped and "
        f"{intact}; free disk space (or fix the directory's permissions) and rerun the same "
        "command to resume")

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def best_step(self) -> int | None:
    """The saved step with the best train.keep_best metric (None if none has one yet)."""
    return self._manager.best_step() if self.best is not None else None

  def best_value(self, step: int) -> float:
    """The train.keep_best metric saved with `step`."""
    return self.best.value(self._manager.metrics(step))

  # ------------------------------------------------------------------------------------
  # Restoring
  # ------------------------------------------------------------------------------------

  def restore_latest(self, abstract_state: Any, abstract_acc: Any, step: int | None = None):
    """Restores the newest intact step: (step, state, acc, data_state), or None if none.

    With `step`, only that step is tried (e.g. the best one; None if it is unreadable).

    Each step is checked from the cheap end: its `meta` item (JSON) must carry this
    config's fingerprint, then the saved arrays' shapes and dtypes (Orbax's metadata) must
    match the abstract target. A mismatch raises CheckpointError and touches nothing. Only
    then are the arrays read and their checksums compared with those recorded at save
    time; a step that fails here is damaged: it is moved aside to checkpoints_unreadable/
    (only skipped when read-only) with a warning, and the previous step is tried.
    """
    for step in reversed(self.all_steps()) if step is None else [step]:
      try:
        meta = self._manager.restore(step, args=ocp.args.Composite(
            meta=ocp.args.JsonRestore())).meta
        fingerprint = meta["fingerprint"]
      except Exception as e:  # pylint: disable=broad-except  # unreadable JSON, missing item
        self._set_aside(step, f"its meta item is unreadable ({_cause(e)})")
        continue
      if fingerprint != self.fingerprint:
        raise CheckpointError(
            f"checkpoint step {step} in {self.directory} was written by a different config "
            f"(fingerprint {fingerprint} != {self.fingerprint}); nothing was changed; use the "
            "config it was trained with (config.json) or a new --workdir")
      try:
        saved = self._manager.item_metadata(step)
        saved_shapes = {name: checksums.shapes(saved[name]) for name in ("state", "acc")}
        if not all(saved_shapes.values()):  # Orbax finds no array metadata: files are lost
          raise ValueError("no array metadata")
      except Exception as e:  # pylint: disable=broad-except
        self._set_aside(step, f"its array metadata is unreadable ({_cause(e)})")
        continue
      for name, target in (("state", abstract_state), ("acc", abstract_acc)):
        differing = checksums.differences(saved_shapes[name], checksums.shapes(target))
        if differing:
          raise CheckpointError(
              f"checkpoint step {step} in {self.directory} holds a {name} of other shapes than "
              f"this code builds: {differing}; nothing was changed; use the genjax version "
              "that wrote it or a new --workdir")
      try:
        restored = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            acc=ocp.args.StandardRestore(abstract_acc), data=ocp.args.JsonRestore()))
      except Exception as e:  # pylint: disable=broad-except  # undecodable chunks, lost files
        self._set_aside(step, f"its arrays are unreadable ({_cause(e)})")
        continue
      bad = checksums.mismatch(meta.get("checksums"), restored)
      if bad:
        self._set_aside(step, f"{bad} read back other bytes than were saved (checksum mismatch)")
        continue
      return step, restored.state, restored.acc, restored.data
    return None

  def _set_aside(self, step: int, why: str) -> None:
    if self.read_only:
      print(f"genjax: warning: checkpoint step {step} is unreadable: {why}; skipped it and "
            "using the previous step (genjax train will move it aside)", flush=True)
      self._manager.reload()
      return
    aside = os.path.join(os.path.dirname(self.directory), "checkpoints_unreadable")
    target = os.path.join(aside, str(step))
    if jax.process_index() == 0:
      os.makedirs(aside, exist_ok=True)
      if os.path.exists(target):  # set aside once before under the same step number
        target = f"{target}.{len(os.listdir(aside))}"
      shutil.move(os.path.join(self.directory, str(step)), target)
    logging.warning("checkpoint step %d is unreadable: %s; moved it to %s", step, why, target)
    print(f"genjax: warning: checkpoint step {step} is unreadable: {why}; moved it to {target}, "
          "using the previous complete step", flush=True)
    if jax.process_count() > 1:  # no host may list the steps again before process 0 moved it
      multihost_utils.sync_global_devices(f"genjax_set_aside_{step}")
    self._manager.reload()


# ======================================================================================
# The best step: train.keep_best
# ======================================================================================

class BestMetric:
  """train.keep_best='EVAL/METRIC' with train.keep_best_mode 'min' or 'max'."""

  def __init__(self, key: str, mode: str):
    self.key, self.mode = key, mode
    self.eval_name, _, self.metric = key.partition("/")

  @classmethod
  def from_config(cls, config, eval_names) -> "BestMetric | None":
    """The config's best-checkpoint metric (None when train.keep_best is unset), checked
    against the evaluators `eval_names` that run during training."""
    key = gconfig.optional(config, "train.keep_best")
    if not key:
      return None
    best = cls(key, gconfig.optional(config, "train.keep_best_mode"))
    if not best.metric or best.eval_name not in eval_names or not config.train.eval_every:
      raise ConfigError(f"train.keep_best='{key}' must name EVAL/METRIC of an evaluator that "
                        f"runs during training (config.evals: {sorted(eval_names)}, with "
                        "train.eval_every > 0)")
    return best

  def value(self, metrics: dict) -> float:
    """The ranking value of a step's saved metrics (Orbax's best_fn)."""
    return metrics[self.key]

  def read(self, results: dict[str, dict]) -> float:
    """This metric from one evaluation's results {eval: {metric: value}}."""
    numbers = results.get(self.eval_name, {})
    if self.metric not in numbers:
      raise ConfigError(f"train.keep_best='{self.key}': evaluator '{self.eval_name}' gave no "
                        f"'{self.metric}' (it gives {sorted(numbers)}); name one of those")
    return float(numbers[self.metric])


# ======================================================================================
# Messages
# ======================================================================================

_KNOWN_CAUSES = ("No space left on device", "Disk quota exceeded", "Permission denied",
                 "Read-only file system", "No such file or directory")


def _cause(error: BaseException) -> str:
  """A short reason for an I/O error, without Orbax's nested context."""
  text = str(error)
  for phrase in _KNOWN_CAUSES:
    if phrase in text:
      return phrase.lower()
  first = text.splitlines()[0] if text else ""
  return f"{type(error).__name__}: {first[:160]}"


# Set once a failed save has been raised as a CheckpointError: from then on the writes
# still in flight in the library's threads fail too (the interpreter exiting), and each
# would print a traceback of the same failure.
_AFTER_FAILED_SAVE = [False]


class _DropOrbaxErrors(py_logging.Filter):
  """Orbax logs each failed background save several times with a traceback (and asyncio
  the futures it left); the same failure reaches the user once, as the CheckpointError."""

  def filter(self, record: py_logging.LogRecord) -> bool:
    if "did not provide metrics" in str(record.msg):  # train.keep_best: a step not evaluated
      return False
    if record.levelno < py_logging.ERROR:
      return True
    if f"{os.sep}orbax{os.sep}" in record.pathname:
      return False
    return not (_AFTER_FAILED_SAVE[0] and record.name == "asyncio")


_FILTER = _DropOrbaxErrors()


def _unraisablehook(unraisable, _previous=sys.unraisablehook):
  """Drops what tensorstore's threads report when a write finishes after Orbax closed the
  event loop awaiting it (the other writes of a save that failed); passes on the rest."""
  value = unraisable.exc_value
  late = (isinstance(value, RuntimeError) and str(value) == "Event loop is closed"
          and any(frame.name == "call_soon_threadsafe"
                  for frame in traceback.extract_tb(unraisable.exc_traceback)))
  if late or (_AFTER_FAILED_SAVE[0] and "sys.meta_path is None" in str(value)):
    return
  _previous(unraisable)


def _quiet_orbax_errors() -> None:
  for name in ("absl", "asyncio"):
    logger = py_logging.getLogger(name)
    if _FILTER not in logger.filters:
      logger.addFilter(_FILTER)
  if sys.unraisablehook is not _unraisablehook:  # tensorstore's threads report through it
    _unraisablehook.__defaults__ = (sys.unraisablehook,)
    sys.unraisablehook = _unraisablehook
