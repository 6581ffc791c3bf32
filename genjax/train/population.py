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

`auto` times both on the first real calls (their compile calls excluded) and keeps the
faster; the choice and both timings are printed and written to each member's directory. A
relaunch of the same population (a resume, or more steps) reuses the recorded choice rather
than timing again: the two modes sum in different orders, so a relaunch that switched modes
would end with other parameters (each member equals its solo run up to float rounding in
`vmap`, bit for bit in `loop`; a resume in the same mode is bit for bit either way).
"""
from __future__ import annotations

import json
import os
import time

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

  def stacked_inputs(self, rngs: list, hps: list):
    """Per-member keys and hparams as stacked arrays, laid out like the members."""
    return (jax.device_put(jnp.stack(rngs), self._members_sharding),
            jax.device_put(stack(hps), self._members_sharding))


class Chooser:
  """Picks the stepper: a fixed one, or (`auto`) the faster after timing both on real calls.

  Both steppers compute the same thing, so the trial calls are real training steps; only
  the loser's compilation is spent. Timings exclude each candidate's first (compiling) call.
  """

  def __init__(self, mode: str, multistep, mesh, size: int, rngs: list, hps: list,
               calls_left: int, recorded: dict | None = None):
    if mode not in MODES:
      raise ConfigError(f"--population_mode={mode} is unknown; use one of {', '.join(MODES)}")
    if mode == "auto" and size > 1 and recorded is not None:
      mode = recorded["mode"]
      print(f"genjax: population stepping: {mode}, as recorded by this population's first "
            "launch (pass --population_mode to change it)", flush=True)
    elif mode == "auto" and (size == 1 or calls_left < 2 * _TRIAL_CALLS + 1):
      mode = "loop" if size == 1 else "vmap"
    self.mode = mode
    self._candidates = ([VmapStepper(multistep, mesh, size), LoopStepper(multistep, mesh)]
                        if mode == "auto" else
                        [VmapStepper(multistep, mesh, size) if mode == "vmap"
                         else LoopStepper(multistep, mesh)])
    self._inputs = {}
    for stepper in self._candidates:
      self._inputs[stepper.name] = (stepper.stacked_inputs(rngs, hps)
                                    if isinstance(stepper, VmapStepper) else (rngs, hps))
    self._times: dict[str, list[float]] = {s.name: [] for s in self._candidates}
    self.stepper = self._candidates[0]
    self.decision: dict | None = None if mode == "auto" else {"mode": mode}
    if recorded is not None and recorded["mode"] == mode:
      self.decision = {k: v for k, v in recorded.items() if k != "population_size"}

  def step(self, packed, batches: list[dict], alive: list[bool]):
    """One call of the current stepper; while deciding, times it and switches when due."""
    rngs, hps = self._inputs[self.stepper.name]
    if self.decision is not None:
      return self.stepper(packed, batches, rngs, hps, alive)
    start = time.perf_counter()
    packed = self.stepper(packed, batches, rngs, hps, alive)
    jax.block_until_ready(packed)
    times = self._times[self.stepper.name]
    times.append(time.perf_counter() - start)
    if len(times) == _TRIAL_CALLS:
      packed = self._next(packed)
    return packed

  def _next(self, packed):
    done = [s for s in self._candidates if len(self._times[s.name]) == _TRIAL_CALLS]
    if len(done) < len(self._candidates):
      following = self._candidates[len(done)]
    else:
      per_call = {name: float(np.median(t[1:])) for name, t in self._times.items()}
      best = min(per_call, key=per_call.get)
      following = next(s for s in self._candidates if s.name == best)
      self.decision = {"mode": best, "seconds_per_call": per_call}
      shown = ", ".join(f"{k} {v * 1e3:.1f} ms/call" for k, v in per_call.items())
      print(f"genjax: population stepping: {shown} -> {best}", flush=True)
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
  same = lambda d: d.get("mode") == first["mode"] and d.get("population_size") == size
  return dict(first) if all(same(d) for d in decisions) else None


def write_decision(workdir: str, decision: dict, size: int) -> None:
  """Records in a member's directory how its population was stepped."""
  if jax.process_index() == 0 and decision is not None:
    with open(os.path.join(workdir, "population.json"), "w") as f:
      json.dump(dict(decision, population_size=size), f, indent=2)
