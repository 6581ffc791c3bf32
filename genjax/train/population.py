"""Populations: several members (same model, other hparams and seeds) trained in lock-step.

Members may differ only in `hparams.*` and `seed`: then they share one data pipeline
layout, one family and one compiled step, and the traced hyperparameters make a beta grid
one program. Two ways to step them, both exact (each member equals its solo run):

  vmap  one compiled program over the stacked states (the population axis sharded over
        the devices when it divides them); best when one member leaves the chip idle.
  loop  one compiled *solo* step called for each member in turn. On XLA:CPU, vmapped
        convolutions become grouped convolutions that run slower than the members one by
        one, and a compiled lax.map over members is a loop, where XLA:CPU runs
        convolution gradients ~50x slower (jax issue 12868); so the fallback is a host
        loop over a compiled step, not lax.map.

Either mode runs in `lanes`: contiguous groups of members, each group stepped from its own
host thread. XLA:CPU runs a small program's ops one after another on one core, but programs
called from two threads run at once, so on a one-device CPU run the default is as many
lanes as cores (the largest divisor of the population size not above them, so that equal
groups share one compiled program). Elsewhere (accelerators, several devices) it is one.
Lane threads see JAX's global settings (`jax.config.update`), not a caller's `with` blocks
such as `jax.default_matmul_precision(...)`, which hold for the calling thread only.

`auto` times both modes on the first real calls (their compile calls excluded) and keeps
the faster; the choice and both timings are printed and written to each member's directory.
A relaunch of the same population (a resume, or more steps) reuses the recorded lanes, and
under `auto` the recorded mode, rather than timing again: vmapped groups of another size sum
in other orders, so a relaunch that switched would end with other parameters (each member
equals its solo run up to float rounding in `vmap`, bit for bit in `loop`; a resume as
recorded is bit for bit).
"""
from __future__ import annotations

from concurrent import futures
import json
import os
import time
from typing import Callable

import jax
import jax.numpy as jnp
from jax.sharding import NamedSharding, PartitionSpec
import ml_collections
import numpy as np

from genjax import config as gconfig
from genjax.core import devices
from genjax.errors import ConfigError

MODES = ("auto", "vmap", "loop")
_MAY_DIFFER = ("hparams.", "seed")
# Calls per candidate while `auto` decides: the first compiles, the rest are timed.
_TRIAL_CALLS = 3


def check_compatible(configs: list[ml_collections.ConfigDict]) -> None:
  """Refuses a population whose members differ in more than hparams and seed."""
  for config in configs[1:]:
    differing = [k for k in gconfig.differing_keys(configs[0], config)
                 if not k.startswith(_MAY_DIFFER)]
    if differing:
      raise ConfigError(
          f"members of one vectorised population may differ only in hparams.* and seed, "
          f"but they differ in {', '.join(differing[:4])}; use --launcher=local for them")


def check_settings(mode: str, lanes: int) -> None:
  """Refuses an unknown mode or a negative lane count, before anything is opened."""
  if mode not in MODES:
    raise ConfigError(f"--population_mode={mode} is unknown; use one of {', '.join(MODES)}")
  if lanes < 0:
    raise ConfigError(f"--population_lanes={lanes} is negative; use 0 (one lane per core on "
                      "a one-device CPU run, else 1) or a count of host threads")


def check_lanes_fit(lanes: int, devices_in_use: int) -> None:
  """Refuses lanes over several devices: their programs would hold collectives from several
  threads at once. (Asked once the backend is up: multi-host set-up must come first.)"""
  if lanes > 1 and devices_in_use > 1:
    raise ConfigError(f"--population_lanes={lanes} needs a one-device run, but this one uses "
                      f"{devices_in_use} devices (vmap shards the population over them); "
                      "leave it at 0")


def default_lanes(size: int) -> int:
  """Lanes for a population of `size` when none are asked for (see the module docstring)."""
  if jax.default_backend() != "cpu" or jax.device_count() > 1 or jax.process_count() > 1:
    return 1
  cores = devices.usable_cores()
  return max(n for n in range(1, min(size, cores) + 1) if size % n == 0)


def stack(trees: list):
  """Member pytrees -> one pytree with a leading population axis."""
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


@jax.jit
def _take(tree, index):
  return jax.tree.map(lambda x: x[index], tree)


class LoopStepper:
  """Members one after another through the one compiled solo step; state: a list of members."""
  name = "loop"

  def __init__(self, multistep, mesh):
    self._mesh = mesh
    self._fn = jax.jit(multistep, donate_argnums=(0, 4),
                       in_shardings=(devices.replicated(mesh), devices.batch_sharding(mesh, 1),
                                     devices.replicated(mesh), devices.replicated(mesh),
                                     devices.replicated(mesh)),
                       out_shardings=(devices.replicated(mesh), devices.replicated(mesh)))

  def pack(self, members: list[tuple]) -> list[tuple]:
    return list(members)

  def unpack(self, packed: list[tuple]) -> list[tuple]:
    return packed

  def __call__(self, packed, batches: list[dict], rngs: list, hps: list, alive: list[bool]):
    sharding = devices.batch_sharding(self._mesh, 1)
    out = []
    for (state, acc), batch, rng, hp, live in zip(packed, batches, rngs, hps, alive):
      if live:  # a diverged member is no longer stepped
        with jax.transfer_guard("allow"):
          batch = devices.to_global(batch, sharding)
        with jax.transfer_guard("disallow"):  # no hidden host<->device copies in the hot loop
          state, acc = self._fn(state, batch, rng, hp, acc)
      out.append((state, acc))
    return out

  def host_accs(self, packed) -> list[dict]:
    return [jax.device_get(acc) for _, acc in packed]

  def map_accs(self, packed, fn):
    return [(state, fn(acc)) for state, acc in packed]

  def inputs(self, rngs: list, hps: list):
    """Per-member keys and hparams as this stepper takes them: lists."""
    return rngs, hps


class VmapStepper:
  """All members in one vmapped program; state: one pytree with a leading population axis."""
  name = "vmap"

  def __init__(self, multistep, mesh, size: int):
    self._mesh, self._size = mesh, size
    # The population axis goes over the devices when it divides them (one host only:
    # across hosts every process would have to hold other members' data); otherwise
    # each member's batch is split over the devices as in a solo run.
    self._population_sharded = (jax.process_count() == 1 and size % jax.device_count() == 0
                                and jax.device_count() > 1)
    if self._population_sharded:
      members = NamedSharding(mesh, PartitionSpec(devices.DATA_AXIS))
      batches = members
    else:
      members = devices.replicated(mesh)
      batches = devices.batch_sharding(mesh, 2)  # [P, S, B, ...]: split B
    self._members_sharding, self._batch_sharding = members, batches
    self._fn = jax.jit(jax.vmap(multistep), donate_argnums=(0, 4),
                       in_shardings=(members, batches, members, members, members),
                       out_shardings=(members, members))

  def pack(self, members: list[tuple]):
    states, accs = zip(*members)
    put = lambda tree: jax.device_put(stack(list(tree)), self._members_sharding)
    return put(states), put(accs)

  def unpack(self, packed) -> list[tuple]:
    states, accs = packed
    return [(_take(states, i), _take(accs, i)) for i in range(self._size)]

  def __call__(self, packed, batches: list[dict], rngs, hps, alive):
    del alive  # a diverged member's NaNs stay in its own slice; it is simply not saved
    states, accs = packed
    stacked = {k: np.stack([b[k] for b in batches]) for k in batches[0]}
    with jax.transfer_guard("allow"):
      stacked = devices.to_global(stacked, self._batch_sharding)
    with jax.transfer_guard("disallow"):
      return self._fn(states, stacked, rngs, hps, accs)

  def host_accs(self, packed) -> list[dict]:
    host = jax.device_get(packed[1])
    return [jax.tree.map(lambda x, i=i: x[i], host) for i in range(self._size)]

  def map_accs(self, packed, fn):
    return packed[0], fn(packed[1])

  def inputs(self, rngs: list, hps: list):
    """Per-member keys and hparams as stacked arrays, laid out like the members."""
    return (jax.device_put(jnp.stack(rngs), self._members_sharding),
            jax.device_put(stack(hps), self._members_sharding))


class Lanes:
  """A stepper run as contiguous groups of members, each group from its own host thread.

  The packed state is one packed group per lane; every method maps the inner stepper's over
  the groups. Equal groups share one inner stepper, hence one compiled program.
  """

  def __init__(self, make_stepper: Callable[[int], object], size: int, lanes: int):
    groups = np.array_split(np.arange(size), lanes)
    self._slices = [slice(int(g[0]), int(g[-1]) + 1) for g in groups]
    by_size: dict[int, object] = {}
    for g in groups:
      if len(g) not in by_size:
        by_size[len(g)] = make_stepper(len(g))
    self._steppers = [by_size[len(g)] for g in groups]
    self.name, self.lanes = self._steppers[0].name, len(groups)
    self._pool = (futures.ThreadPoolExecutor(self.lanes, thread_name_prefix="genjax-lane")
                  if self.lanes > 1 else None)

  def _split(self, items: list) -> list[list]:
    return [items[s] for s in self._slices]

  def pack(self, members: list[tuple]) -> list:
    return [st.pack(group) for st, group in zip(self._steppers, self._split(members))]

  def unpack(self, packed: list) -> list[tuple]:
    return [m for st, group in zip(self._steppers, packed) for m in st.unpack(group)]

  def inputs(self, rngs: list, hps: list) -> list:
    return [st.inputs(r, h) for st, r, h in zip(self._steppers, self._split(rngs),
                                                self._split(hps))]

  def __call__(self, packed: list, batches: list[dict], inputs: list, alive: list[bool]):
    """One call per lane. One lane dispatches and returns (asynchronous, as a solo run);
    several each wait for their own results in their thread, which is what makes XLA:CPU
    run them at once (returning at dispatch overlapped them only partly)."""
    calls = list(zip(self._steppers, packed, self._split(batches), inputs,
                     self._split(alive)))
    if self._pool is None:
      return [st(group, b, *lane_inputs, a) for st, group, b, lane_inputs, a in calls]
    run = lambda st, group, b, lane_inputs, a: jax.block_until_ready(
        st(group, b, *lane_inputs, a))
    running = [self._pool.submit(run, *call) for call in calls]
    return [r.result() for r in running]

  def host_accs(self, packed: list) -> list[dict]:
    return [acc for st, group in zip(self._steppers, packed) for acc in st.host_accs(group)]

  def map_accs(self, packed: list, fn) -> list:
    return [st.map_accs(group, fn) for st, group in zip(self._steppers, packed)]

  def close(self) -> None:
    if self._pool is not None:
      self._pool.shutdown()


class Chooser:
  """Picks the stepper: a fixed one, or (`auto`) the faster after timing both on real calls.

  Both steppers compute the same thing, so the trial calls are real training steps; only
  the loser's compilation is spent. Timings exclude each candidate's first (compiling) call.
  Both candidates run in the same lanes (0: `default_lanes`, or as a relaunch recorded).
  """

  def __init__(self, mode: str, multistep, mesh, size: int, rngs: list, hps: list,
               calls_left: int, recorded: dict | None = None, lanes: int = 0):
    check_settings(mode, lanes)
    if size > 1 and recorded is not None:  # a relaunch keeps what it can of the record
      lanes = lanes or recorded.get("lanes", 1)  # records from before lanes: one lane
      if mode == "auto":
        mode = recorded["mode"]
        print(f"genjax: population stepping: {mode} in {lanes} lane(s), as recorded by this "
              "population's first launch (pass --population_mode to change it)", flush=True)
    if mode == "auto" and (size == 1 or calls_left < 2 * _TRIAL_CALLS + 1):
      mode = "loop" if size == 1 else "vmap"
    lanes = min(lanes or default_lanes(size), size)
    self.mode = mode
    loop = LoopStepper(multistep, mesh)  # one compiled solo step, whatever the group sizes
    make = {"vmap": lambda n: VmapStepper(multistep, mesh, n), "loop": lambda n: loop}
    self._candidates = [Lanes(make[name], size, lanes)
                        for name in (("vmap", "loop") if mode == "auto" else (mode,))]
    self._inputs = {s.name: s.inputs(rngs, hps) for s in self._candidates}
    self._times: dict[str, list[float]] = {s.name: [] for s in self._candidates}
    self.stepper = self._candidates[0]
    self.decision: dict | None = None if mode == "auto" else {"mode": mode, "lanes": lanes}
    if (recorded is not None and recorded["mode"] == mode
        and recorded.get("lanes", 1) == lanes):
      self.decision = {k: v for k, v in recorded.items() if k != "population_size"}
      self.decision["lanes"] = lanes

  def step(self, packed, batches: list[dict], alive: list[bool]):
    """One call of the current stepper; while deciding, times it and switches when due."""
    inputs = self._inputs[self.stepper.name]
    if self.decision is not None:
      return self.stepper(packed, batches, inputs, alive)
    start = time.perf_counter()
    packed = self.stepper(packed, batches, inputs, alive)
    jax.block_until_ready(packed)
    times = self._times[self.stepper.name]
    times.append(time.perf_counter() - start)
    if len(times) == _TRIAL_CALLS:
      packed = self._next(packed)
    return packed

  def close(self) -> None:
    """Ends the lanes' host threads."""
    for candidate in self._candidates:
      candidate.close()

  def _next(self, packed):
    done = [s for s in self._candidates if len(self._times[s.name]) == _TRIAL_CALLS]
    if len(done) < len(self._candidates):
      following = self._candidates[len(done)]
    else:
      per_call = {name: float(np.median(t[1:])) for name, t in self._times.items()}
      best = min(per_call, key=per_call.get)
      following = next(s for s in self._candidates if s.name == best)
      self.decision = {"mode": best, "lanes": following.lanes, "seconds_per_call": per_call}
      shown = ", ".join(f"{k} {v * 1e3:.1f} ms/call" for k, v in per_call.items())
      print(f"genjax: population stepping in {following.lanes} lane(s): {shown} -> {best}",
            flush=True)
    if following is not self.stepper:
      packed = following.pack(self.stepper.unpack(packed))
      self.stepper = following
    return packed


def recorded_mode(workdirs: list[str], size: int) -> dict | None:
  """The decision every member's population.json records for a population of this size, if
  they all hold the same one; else None (a first launch, or a regrouped population)."""
  decisions = []
  for workdir in workdirs:
    try:
      with open(os.path.join(workdir, "population.json")) as f:
        decisions.append(json.load(f))
    except (OSError, ValueError):
      return None
  first = decisions[0]
  if first.get("mode") not in ("vmap", "loop") or first.get("population_size") != size:
    return None
  same = lambda d: (d.get("mode"), d.get("lanes"), d.get("population_size")) == (
      first["mode"], first.get("lanes"), size)
  return dict(first) if all(same(d) for d in decisions) else None


def write_decision(workdir: str, decision: dict, size: int) -> None:
  """Records in a member's directory how its population was stepped."""
  if jax.process_index() == 0 and decision is not None:
    with open(os.path.join(workdir, "population.json"), "w") as f:
      json.dump(dict(decision, population_size=size), f, indent=2)
