"""glibc malloc settings for CPU training, so that the steps stop page-faulting.

XLA:CPU allocates a step's temporaries as one block (91.5 MB for the sprites beta-VAE at
batch 64) from one of its worker threads and frees it when the step ends. glibc serves a
block that large from a fresh `mmap` (a worker thread's arena cannot hold it) and returns it
with `munmap`, so every step faults the whole block in again, 4 KiB at a time: 22,000
faults and ~45 ms of kernel time per step, which takes the step from ~50 to ~75 ms
(benchmarks/README.md). glibc reads its settings from `GLIBC_TUNABLES` only when a process
starts, so the `genjax` command re-executes itself once with them set, before anything heavy
is imported. `GENJAX_MALLOC` chooses them:

  hugepages (default)  transparent huge pages for malloc's mappings: the block faults in
                       2 MiB at a time (~400 faults); the kernel still clears it every step.
  one-arena            also one arena for every thread, no `mmap` and a 256 MiB trim
                       threshold: the block stays mapped from step to step (no faults),
                       but threads contend for the one arena, so compiling takes ~1.3x as
                       long and steps of a few microseconds (toy2d MLPs) ~1.5-2x. For long
                       CPU runs of conv nets.
  system               glibc's defaults.

Left alone in any case: processes that may use a GPU or TPU (their steps' memory is on the
device) and a caller's own `glibc.malloc.*` tunables.
"""
from __future__ import annotations

import importlib.util
import os
import sys

CHOICE = "GENJAX_MALLOC"
TUNABLES = {
    "hugepages": "glibc.malloc.hugetlb=1",
    "one-arena": ("glibc.malloc.hugetlb=1:glibc.malloc.arena_max=1:glibc.malloc.mmap_max=0:"
                  "glibc.malloc.trim_threshold=268435456"),
    "system": "",
}
DEFAULT = "hugepages"
# JAX's accelerator plugins: where one is installed, JAX uses the device by default.
_ACCELERATOR_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin",
                        "jax_rocm7_plugin", "libtpu")


class GenjaxMallocError(ValueError):
  """`GENJAX_MALLOC` holds an unknown value (reported as one line by the entry point)."""


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

  Raises:
    GenjaxMallocError: `GENJAX_MALLOC` names no known choice.
  """
  choice = environ.get(CHOICE, "") or DEFAULT
  if choice not in TUNABLES:
    raise GenjaxMallocError(f"{CHOICE}={choice!r} is not a known allocator setting; use one "
                            f"of: {', '.join(TUNABLES)}")
  current, wanted = environ.get("GLIBC_TUNABLES", ""), TUNABLES[choice]
  if not glibc or not cpu_only or not wanted or "glibc.malloc." in current:
    return None
  return dict(environ, GLIBC_TUNABLES=f"{current}:{wanted}" if current else wanted)


def reexec_with_tunables() -> None:
  """Replaces this process by the same command with the chosen tunables; returns if not
  needed.

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
