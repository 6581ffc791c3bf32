"""Where a compiled program's time goes, op by op, from JAX's own profiler.

  from benchmarks.op_profile import per_op
  table = per_op(lambda: step(state, batch), calls=20)   # {op kind: microseconds per call}

XLA:CPU runs a program as a sequence of thunks (a dot, a convolution, a fusion, a copy) and
the profiler records each one on the runtime's threads. `per_op` traces `calls` calls of
`run` (already compiled: call it once before), sums the thunks' durations by kind (the
thunk's name without its numeric suffix: `dot`, `convolution`, `ynn_fusion`, `loop_fusion`,
...), and divides by `calls`. It also reports `thunks` (thunks per call) and `wall`
(microseconds per call of the traced loop): thunk time below wall is dispatch and idle.
"""
from __future__ import annotations

import collections
import glob
import re
import tempfile
import time
from typing import Callable

import jax
from jax._src import profiler as jax_profiler

# Runtime bookkeeping events on the same threads that are not ops.
_NOT_OPS = re.compile(r"^(end: |ThunkExecutor|ThreadpoolListener|Execute|Thunk)")


def per_op(run: Callable[[], object], calls: int = 20) -> dict[str, float]:
  """Microseconds per call of `run`, by op kind, plus `thunks` per call and `wall`."""
  with tempfile.TemporaryDirectory() as trace_dir:
    jax.profiler.start_trace(trace_dir)
    start = time.perf_counter()
    out = None
    for _ in range(calls):
      out = run()
    jax.block_until_ready(out)
    wall = time.perf_counter() - start
    jax.profiler.stop_trace()
    path = sorted(glob.glob(f"{trace_dir}/**/*.xplane.pb", recursive=True))[-1]
    data = jax_profiler.ProfileData.from_file(path)
  ns, count = collections.Counter(), 0
  for plane in data.planes:
    for line in plane.lines:
      if line.name == "python":  # the host thread: dispatch, not ops
        continue
      for event in line.events:
        if _NOT_OPS.match(event.name):
          continue
        ns[re.sub(r"[.\d]+$", "", event.name)] += event.duration_ns
        count += 1
  table = {kind: round(t / 1e3 / calls, 2) for kind, t in ns.most_common()}
  table["thunks"] = round(count / calls, 1)
  table["wall"] = round(wall * 1e6 / calls, 1)
  return table
