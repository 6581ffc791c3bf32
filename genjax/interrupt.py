"""Ctrl-C outside the training loop (which saves and stops on its own): one line and exit 130.

Installed before anything heavy is imported: an interrupt that lands inside an import
(numpy, jax) would otherwise print a traceback, and one that lands while XLA or Orbax threads
start has crashed the interpreter's shutdown. So the handler exits at once, skipping it.
"""
import os
import signal
import sys
import threading


def _interrupted(signum=signal.SIGINT, frame=None) -> None:
  del frame
  print(f"genjax: error: interrupted by signal {signum}; rerun the same command (a run "
        "resumes from its last checkpoint)", file=sys.stderr, flush=True)
  sys.stdout.flush()
  os._exit(128 + signum)  # pylint: disable=protected-access


def install() -> None:
  """Makes SIGINT print one line and exit 130 (signal handlers live in the main thread)."""
  if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, _interrupted)


def ignore_during_shutdown() -> None:
  """Once the command has finished (outputs written, exit code decided), ignores SIGINT.

  A Ctrl-C while the interpreter then shuts down (XLA and Orbax threads stopping takes a
  moment) has nothing left to stop, and Python puts the default action back during
  finalisation, so it would kill the process by the signal (exit -2) and lose the
  command's own exit code; an ignored signal stays ignored through finalisation."""
  if threading.current_thread() is threading.main_thread():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def exit_now() -> None:
  """The same exit, for a KeyboardInterrupt raised before `install` ran."""
  _interrupted()
