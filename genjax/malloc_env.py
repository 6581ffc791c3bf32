"""glibc malloc settings for CPU training, so that the steps stop page-faulting.

XLA:CPU allocates a step's temporaries as one block (91.5 MB for the sprites beta-VAE at
batch 64) from one of its worker threads and frees it when the step ends. glibc serves a
block that large from a fresh `mmap` (a worker thread's arena cannot hold it) and returns it
with `munmap`, so every step faults the whole block in again: 22,000 faults and ~45 ms of
kernel time per step, which takes the step from ~50 to ~75 ms (benchmarks/README.md).

With one arena (every thread allocates from the main heap), no `mmap` for large blocks, a
trim threshold above the block and transparent huge pages for the heap, the block stays
mapped from one step to the next and the faults go away. glibc reads these settings from
`GLIBC_TUNABLES` only when a process starts, so the `genjax` command re-executes itself
once with them set, before anything heavy is imported.

Left alone: processes that may use a GPU or TPU (their steps' memory is on the device),
a caller's own `glibc.malloc.*` tunables, and `GENJAX_MALLOC=system`. The costs: freed
memory up to the trim threshold (256 MiB) stays with the process, and one shared arena
slows steps of a few microseconds each (a population of toy2d MLPs trained one member at a
time: ~2x) while the conv steps this is for get ~1.5x faster.
"""
from __future__ import annotations

import importlib.util
import os
import sys

TUNABLES = ("glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:"
            "glibc.malloc.trim_threshold=268435456:glibc.malloc.hugetlb=1")
OPT_OUT = "GENJAX_MALLOC"  # =system: keep glibc's defaults (or the caller's tunables)
# JAX's accelerator plugins: where one is installed, JAX uses the device by default.
_ACCELERATOR_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin",
                        "jax_rocm7_plugin", "libtpu")


def _has_glibc() -> bool:
  """Whether this process runs on glibc (tunables mean nothing to musl, macOS or Windows)."""
  try:
    return os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc")
  except (AttributeError, ValueError, OSError):
    return False


def _cpu_only(environ: dict[str, str]) -> bool:
  """Whether JAX will run on the CPU: `JAX_PLATFORMS=cpu`, or no accelerator plugin."""
  platforms = environ.get("JAX_PLATFORMS", "")
  if platforms:
    return platforms.split(",")[0].strip() == "cpu"
  return not any(importlib.util.find_spec(name) for name in _ACCELERATOR_PLUGINS)


def tuned_environment(environ: dict[str, str], glibc: bool,
                      cpu_only: bool = True) -> dict[str, str] | None:
  """The environment to re-execute with, or None when the allocator is to be left alone.

  Args:
    environ: the current environment.
    glibc: whether the process runs on glibc.
    cpu_only: whether JAX will run on the CPU.
  """
  current = environ.get("GLIBC_TUNABLES", "")
  if (not glibc or not cpu_only or environ.get(OPT_OUT, "") == "system"
      or "glibc.malloc." in current):
    return None
  return dict(environ, GLIBC_TUNABLES=f"{current}:{TUNABLES}" if current else TUNABLES)


def reexec_with_tunables() -> None:
  """Replaces this process by the same command with `TUNABLES` set; returns if not needed.

  Call it first thing in an entry point: the re-executed process finds the tunables set and
  goes on, so this happens at most once. If the exec itself fails, the command runs as is.
  """
  environ = dict(os.environ)
  env = tuned_environment(environ, _has_glibc(), _cpu_only(environ))
  if env is None:
    return
  argv = [sys.executable] + sys.orig_argv[1:]  # with the interpreter's own options
  sys.stdout.flush()
  sys.stderr.flush()
  try:
    os.execve(sys.executable, argv, env)
  except OSError:
    pass
