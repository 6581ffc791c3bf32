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


def exit_now() -> None:
  """The same exit, for a KeyboardInterrupt raised before `install` ran."""
  _interrupted()
