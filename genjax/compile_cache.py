"""A persistent XLA compilation cache for the `genjax` command, on by default.

A resume, a sweep's next member, an `eval` or `sample` of a trained run, and a relaunch of
the same config compile the same programs again; with the cache they read the executables
from disk (the quickstart's first step comes after 3.5 s warm against 6.1 s cold,
benchmarks/first_step.py). JAX's own cache: keyed on the program, the compiler options and
the device, so a hit is exactly the executable the compiler would have built, and only
programs that took at least a second to compile are written. Where:
$JAX_COMPILATION_CACHE_DIR when set (JAX reads it), else jax_compilation under genjax's
cache root (`config.cache_root`: $GENJAX_CACHE, else $XDG_CACHE_HOME/genjax, else
~/.cache/genjax);
GENJAX_COMPILATION_CACHE=0 turns it off. Set through the environment, before jax is
imported, so that subprocesses (a local sweep's members) share it.
"""
from __future__ import annotations

import os
import sys

from genjax.config import cache_root

OFF_VALUES = ("0", "off", "false", "no")


def default_dir(environ=os.environ) -> str:
  return os.path.join(cache_root(environ), "jax_compilation")


def enable(environ=os.environ) -> str | None:
  """Points JAX's persistent cache at genjax's directory unless it is set or turned off;
  returns the directory in use (None when off). An unwritable place means no cache, not
  an error: the cache only saves time."""
  if environ.get("GENJAX_COMPILATION_CACHE", "").strip().lower() in OFF_VALUES:
    return None
  if environ.get("JAX_COMPILATION_CACHE_DIR"):
    return environ["JAX_COMPILATION_CACHE_DIR"]
  directory = default_dir(environ)
  try:
    os.makedirs(directory, exist_ok=True)
  except OSError:
    return None
  if not os.access(directory, os.W_OK):
    return None
  environ["JAX_COMPILATION_CACHE_DIR"] = directory
  if "jax" in sys.modules:  # imported already: its config read the environment before this
    import jax  # pylint: disable=g-import-not-at-top
    jax.config.update("jax_compilation_cache_dir", directory)
  return directory
