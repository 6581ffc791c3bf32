"""Checkpoints: Orbax CheckpointManager holding the train state, the metric accumulator,
the data-iterator position and the config fingerprint together, one directory per step.

Saves are asynchronous and atomic (Orbax writes a tmp directory and renames it), so a run
killed mid-save still has its last complete step. Restores go into an abstract target
(shapes, dtypes and shardings), never a bare restore that would return plain dicts.
"""
from __future__ import annotations

import os
import shutil
from typing import Any

from absl import logging
import jax
from jax.experimental import multihost_utils
import orbax.checkpoint as ocp

from genjax.errors import CheckpointError


class Checkpointer:
  """Saves and restores {'state', 'acc', 'data', 'meta'} under workdir/checkpoints."""

  def __init__(self, workdir: str, keep: int, fingerprint: str):
    self.directory = os.path.abspath(os.path.join(workdir, "checkpoints"))
    self.fingerprint = fingerprint
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, enable_async_checkpointing=True, create=True)
    self._manager = ocp.CheckpointManager(
        self.directory, options=options, item_names=("state", "acc", "data", "meta"))

  def save(self, step: int, state: Any, acc: Any, data_state: dict) -> None:
    self._manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), acc=ocp.args.StandardSave(acc),
        data=ocp.args.JsonSave(data_state),
        meta=ocp.args.JsonSave({"fingerprint": self.fingerprint, "step": step})))

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def restore_latest(self, abstract_state: Any, abstract_acc: Any):
    """Restores the newest readable step: (step, state, acc, data_state), or None if none.

    A step that cannot be read (a damaged or partial directory) is moved aside to
    checkpoints_unreadable/ with a warning and the previous complete one is used, so that
    the run goes on and nothing is deleted.
    """
    for step in reversed(self.all_steps()):
      try:
        restored = self._manager.restore(step, args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract_state),
            acc=ocp.args.StandardRestore(abstract_acc),
            data=ocp.args.JsonRestore(), meta=ocp.args.JsonRestore()))
      except Exception as e:  # pylint: disable=broad-except  # any unreadable step: fall back
        self._set_aside(step, e)
        continue
      if restored.meta["fingerprint"] != self.fingerprint:
        raise CheckpointError(
            f"checkpoint step {step} in {self.directory} was written by a different config "
            f"(fingerprint {restored.meta['fingerprint']} != {self.fingerprint}); "
            "use a new --workdir")
      return step, restored.state, restored.acc, restored.data
    return None

  def _set_aside(self, step: int, error: Exception) -> None:
    aside = os.path.join(os.path.dirname(self.directory), "checkpoints_unreadable")
    target = os.path.join(aside, str(step))
    if jax.process_index() == 0:
      os.makedirs(aside, exist_ok=True)
      shutil.move(os.path.join(self.directory, str(step)), target)
    logging.warning("checkpoint step %d is unreadable (%s: %s); moved it to %s and falling "
                    "back to the previous step", step, type(error).__name__,
                    str(error).splitlines()[0][:200], target)
    print(f"genjax: warning: checkpoint step {step} is unreadable; moved to {target}, "
          "using the previous complete step", flush=True)
    if jax.process_count() > 1:  # no host may list the steps again before process 0 moved it
      multihost_utils.sync_global_devices(f"genjax_set_aside_{step}")
    self._manager.reload()
