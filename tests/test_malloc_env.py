"""The `genjax` command's allocator settings (genjax/malloc_env.py): set once, by one re-exec,
and they do what they are for: a large block a worker thread frees and allocates again is not
faulted in again (XLA:CPU's per-step temporaries)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from genjax import malloc_env
from tests.conftest import ROOT

_GLIBC = malloc_env._has_glibc()  # pylint: disable=protected-access


def _environment(**changes) -> dict[str, str]:
  env = {k: v for k, v in os.environ.items()
         if k not in ("GLIBC_TUNABLES", malloc_env.CHOICE)}
  env.update(changes, JAX_PLATFORMS="cpu")
  return env


_DEFAULT = malloc_env.TUNABLES[malloc_env.DEFAULT]
_ONE_ARENA = malloc_env.TUNABLES["one-arena"]


def test_tunables_are_added_to_the_callers_other_tunables():
  env = malloc_env.tuned_environment({"GLIBC_TUNABLES": "glibc.rtld.nns=2", "HOME": "/h"}, True)
  assert env == {"GLIBC_TUNABLES": f"glibc.rtld.nns=2:{_DEFAULT}", "HOME": "/h"}
  assert malloc_env.tuned_environment({}, True) == {"GLIBC_TUNABLES": _DEFAULT}
  chosen = {malloc_env.CHOICE: "one-arena"}
  assert malloc_env.tuned_environment(chosen, True) == dict(chosen, GLIBC_TUNABLES=_ONE_ARENA)


@pytest.mark.parametrize("environ, glibc, cpu_only", [
    ({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}, True, True),  # the caller's own choice
    ({malloc_env.CHOICE: "system"}, True, True),                   # the opt-out
    ({}, False, True),                                             # musl, macOS: no tunables
    ({}, True, False),                                             # a GPU or TPU process
])
def test_the_allocator_is_left_alone(environ, glibc, cpu_only):
  assert malloc_env.tuned_environment(environ, glibc, cpu_only) is None


@pytest.mark.parametrize("platforms, cpu_only", [("cpu", True), ("cuda", False),
                                                 ("tpu,cpu", False)])
def test_jax_platforms_decides_whether_the_process_is_cpu_only(platforms, cpu_only):
  cpu_only_check = malloc_env._cpu_only  # pylint: disable=protected-access
  assert cpu_only_check({"JAX_PLATFORMS": platforms}) is cpu_only


_PROBE = """
import os, sys
print("tunables:", os.environ.get("GLIBC_TUNABLES"), flush=True)
sys.argv = ["genjax", "no-such-command"]
from genjax.__main__ import main
main()
"""


@pytest.mark.skipif(not _GLIBC, reason="glibc only")
@pytest.mark.parametrize("opt_out", [False, True])
def test_the_command_reexecutes_itself_once_with_the_tunables(opt_out):
  """The probe prints its environment, then runs the command: it runs twice (before and
  after the one re-exec), the second time with the tunables, and the command's own exit
  code and error line survive. Opted out, it runs once, untouched."""
  env = _environment(**({malloc_env.CHOICE: "system"} if opt_out else {}))
  proc = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=120)
  printed = [line for line in proc.stdout.splitlines() if line.startswith("tunables:")]
  want = ["tunables: None"] + ([] if opt_out else [f"tunables: {_DEFAULT}"])
  assert printed == want, proc.stdout + proc.stderr
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines() == [
      "genjax: error: unknown command 'no-such-command'; use one of: train, eval, sample, "
      "translate, report, sweep"], proc.stderr


def test_an_unknown_choice_is_one_line_and_exit_2():
  proc = subprocess.run([sys.executable, "-m", "genjax", "train"], cwd=ROOT, capture_output=True,
                        text=True, env=_environment(**{malloc_env.CHOICE: "jemalloc"}),
                        timeout=120)
  assert proc.returncode == 2
  assert proc.stderr.splitlines() == [
      "genjax: error: GENJAX_MALLOC='jemalloc' is not a known allocator setting; use one of: "
      "hugepages, one-arena, system"], proc.stderr


# A worker thread allocates a 96 MiB block with malloc, touches every page and frees it,
# three times; the last two rounds' minor page faults are printed. This is what XLA:CPU does
# with a step's temporaries.
_FAULTS = """
import ctypes, resource, threading
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
SIZE = 96 << 20
faults = []
def rounds():
  for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = libc.malloc(SIZE)
    ctypes.memset(block, 1, SIZE)
    libc.free(block)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
worker = threading.Thread(target=rounds)
worker.start()
worker.join()
print(sum(faults[1:]))
"""


def _thp_always() -> bool:
  try:
    with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
      return "[always]" in f.read()
  except OSError:
    return False


@pytest.mark.skipif(not _GLIBC, reason="glibc only")
def test_with_one_arena_a_freed_block_is_not_faulted_in_again():
  """Two rounds touch 2 x 24,576 pages of 4 KiB. Under `GENJAX_MALLOC=one-arena` the block
  stays mapped after the first round, so they fault (almost) none: below 1 %, leaving room
  for the interpreter's own allocations. glibc's defaults unmap and map it again each
  round, so every page faults again, unless the kernel backs it with 2 MiB pages anyway
  (THP 'always'), where only the first bound is checked. (The default, `hugepages`, only
  makes the faults 512x fewer where the kernel has huge pages to give: not asserted, since
  that depends on the machine's memory.)"""
  pages = 2 * (96 << 20) // 4096

  def faults(env):
    proc = subprocess.run([sys.executable, "-c", _FAULTS], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])

  tuned = faults(_environment(GLIBC_TUNABLES=_ONE_ARENA))
  plain = faults(_environment())
  assert tuned < pages // 100, (tuned, plain)
  if not _thp_always():
    assert plain > pages // 2, (tuned, plain)
