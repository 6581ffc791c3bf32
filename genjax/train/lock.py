"""One live `genjax train` per run directory: an flock on workdir/.lock for the run's life.

Two trainers in one directory would both append to metrics.jsonl and race on checkpoints,
so the second is refused, naming the holder (pid, host, start time written into the lock
file by `record` once the run is accepted: a refused start writes nothing). The kernel
drops an flock when its process dies, even by kill -9, so a killed run never leaves the
directory stuck. `eval` and `sample` only read and take no lock. In a
multi-host job process 0 alone holds it (all hosts write into one shared directory).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from typing import Iterator

import jax
import numpy as np

from genjax.errors import CheckpointError

LOCK_NAME = ".lock"

# Held locks of this process by path, with a count: a run re-entering its own directories
# (members regrouped by start step) must not be refused by itself.
_HELD: dict[str, list] = {}


@contextlib.contextmanager
def hold(workdirs: list[str]) -> Iterator[None]:
  """Holds the lock of every workdir (creating the directories) until the block ends.

  Raises:
    CheckpointError: another live process holds one of them (none is then held).
  """
  taken = []
  try:
    for workdir in workdirs:
      _acquire(workdir)
      taken.append(workdir)
    yield
  except BaseException:
    for workdir in reversed(taken):  # a refused start leaves no trace of its lock
      _release(workdir, undo_unrecorded=True)
    raise
  else:
    for workdir in reversed(taken):
      _release(workdir)


def holder(workdir: str) -> dict | None:
  """What the lock file of workdir says about its last holder ({pid, host, since}), if any."""
  try:
    with open(os.path.join(workdir, LOCK_NAME)) as f:
      return json.loads(f.read() or "null")
  except (OSError, ValueError):
    return None


def _acquire(workdir: str) -> None:
  path = os.path.abspath(os.path.join(workdir, LOCK_NAME))
  if path in _HELD:
    _HELD[path][1] += 1
    return
  refusal, fd, created = None, None, []
  if jax.process_index() == 0:
    created = [p for p in (os.path.dirname(path), path) if not os.path.exists(p)]
    try:
      os.makedirs(os.path.dirname(path), exist_ok=True)
      fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:  # a file named like the directory, a read-only filesystem
      refusal = (f"--workdir={workdir} is an existing file, not a directory; pass a directory"
                 if os.path.isfile(workdir) else
                 f"cannot use --workdir {workdir}: creating {path} failed ({e.strerror}); "
                 "pass a writable directory")
    else:
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        os.close(fd)
        fd, refusal = None, _refusal(workdir)
  if jax.process_count() > 1:  # every host must stop if process 0 was refused
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    refused = multihost_utils.broadcast_one_to_all(np.int32(refusal is not None))
    if int(refused) and refusal is None:
      refusal = f"{workdir} is in use by another genjax train (see process 0's message)"
  if refusal is not None:
    raise CheckpointError(refusal)
  # [fd, holds, paths this call created, recorded]: a start refused before `record` removes
  # what it created, so a failed start leaves the directory as it found it.
  _HELD[path] = [fd, 1, created, False]


def record(workdirs: list[str]) -> None:
  """Writes this process into the held lock files, for the message a second trainer prints."""
  text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                     "since": time.strftime("%Y-%m-%d %H:%M:%S")}).encode()
  for workdir in workdirs:
    entry = _HELD.get(os.path.abspath(os.path.join(workdir, LOCK_NAME)))
    if entry is not None:
      entry[3] = True
    if entry is not None and entry[0] is not None:
      os.ftruncate(entry[0], 0)
      os.pwrite(entry[0], text, 0)


def _release(workdir: str, undo_unrecorded: bool = False) -> None:
  path = os.path.abspath(os.path.join(workdir, LOCK_NAME))
  entry = _HELD.get(path)
  if entry is None:
    return
  entry[1] -= 1
  if entry[1] == 0:
    del _HELD[path]
    fd, _, created, recorded = entry
    if undo_unrecorded and not recorded:  # removed while still locked: no one else took it
      for created_path in reversed(created):
        with contextlib.suppress(OSError):
          (os.rmdir if os.path.isdir(created_path) else os.remove)(created_path)
    if fd is not None:  # otherwise the file stays (its last holder is harmless); the lock goes
      fcntl.flock(fd, fcntl.LOCK_UN)
      os.close(fd)


def _refusal(workdir: str) -> str:
  who = holder(workdir) or {}
  if who.get("host") == socket.gethostname() and not _alive(who.get("pid")):
    who = {}  # the file names an earlier run; the holder has not recorded itself yet
  named = (f"pid {who.get('pid', '?')} on {who.get('host', '?')}, since {who.get('since', '?')}"
           if who else "still starting, its pid not yet recorded")
  return (f"{workdir} is in use by another genjax train ({named}); wait for it to finish or "
          "stop it, or train into another --workdir")


def _alive(pid) -> bool:
  try:
    os.kill(int(pid), 0)
  except (TypeError, ValueError, ProcessLookupError):
    return False
  except PermissionError:  # alive, another user's
    return True
  return True
