"""A population of 8 members trained vectorised against the same 8 trained one after another.

  python benchmarks/population.py                    # toy2d VAE, toy2d GAN, sprites32 beta-VAE
  python benchmarks/population.py --cases vae_toy2d --members 8 --rounds 20
  python benchmarks/population.py --cases vae_toy2d --profile  # + time by op kind (op_profile)
  python benchmarks/population.py --one_core         # + each case again on one core: the ceiling

The contenders are the runner's own steppers (genjax/train/population.py): `vmap` (one
program over the stacked states) and `loop` (one compiled solo step called per member),
each in one lane and, where `population.default_lanes` gives more (a one-device CPU run:
one per core), in that many lanes (groups of members stepped from their own host threads,
`vmap_2lanes`, `loop_2lanes`). `loop` in one lane is the members one after another: the
baseline. All are fed the same fixed batches (data loading excluded) and alternate call by
call, so load from other processes hits each; each figure is a median over rounds. Per
case it prints the total member-steps/s of each, each one's speed-up over the baseline
(`over_sequential`), which one `--population_mode=auto` would keep (it compares the modes
in the default lanes), and the compiled programs' memory (arguments + outputs +
temporaries, from XLA's memory analysis) for the whole population vmapped and one member.

`--one_core` runs each case again in a child process pinned to one core, so that XLA's
thread pool has one thread, and prints the `ceiling`: the cores times the best one-core
rate, i.e. every core stepping its own members with nothing shared, and that ceiling over
the sequential baseline of the main run. A goal above it is beyond the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# Run as a script, time genjax with the allocator the `genjax` command runs with (one
# re-exec; genjax/malloc_env.py); GENJAX_MALLOC=system keeps glibc's defaults.
from genjax import malloc_env  # noqa: E402

if __name__ == "__main__":
  malloc_env.reexec_with_tunables()

import jax  # noqa: E402

from genjax import config as gconfig  # noqa: E402
from benchmarks import op_profile  # noqa: E402
from genjax.core import devices  # noqa: E402
from genjax.train import population, runner, session  # noqa: E402

CASES = {  # name: (config, overrides): small MLPs, and the convolutional beta-VAE
    "vae_toy2d": ("configs/vae.py:toy2d", {"model.widths": (64, 64), "data.batch_size": 64}),
    "gan_toy2d": ("configs/gan.py:ring8", {"data.batch_size": 64}),
    "vae_sprites32": ("configs/vae.py:sprites32", {}),
    "vae_sprites64": ("configs/vae.py:sprites", {}),  # GPU: where one member leaves it idle
}


def emit(**record) -> dict:
  print(json.dumps(record), flush=True)
  return record


def _memory_bytes(jitted, *args) -> int:
  analysis = jitted.lower(*args).compile().memory_analysis()
  if analysis is None:
    return -1
  return int(analysis.argument_size_in_bytes + analysis.output_size_in_bytes
             + analysis.temp_size_in_bytes - analysis.alias_size_in_bytes)


def bench_case(name: str, members: int, rounds: int, steps_per_call: int,
               profile: bool = False) -> dict:
  spec, overrides = CASES[name]
  overrides = dict(overrides, **{"train.steps_per_call": steps_per_call,
                                 "train.log_every": steps_per_call,
                                 "train.checkpoint_every": steps_per_call,
                                 "train.eval_every": 0, "train.figure_every": 0})
  configs = [gconfig.load_config(os.path.join(ROOT, spec), dict(
      overrides, **{"seed": i, "hparams.beta": 1.0 + i} if "vae" in name else {"seed": i}))
             for i in range(members)]
  lead = session.open_session(configs[0], "/tmp/genjax_bench_population")
  sessions = [lead] + [lead.for_member(c, "/tmp/unused") for c in configs[1:]]
  host_states = [jax.device_get((s.init_state(), s.init_acc())) for s in sessions]
  # Laid out as the runner lays them out (replicated over the mesh); donated below.
  fresh = lambda: [jax.device_put(hs, devices.replicated(lead.mesh)) for hs in host_states]
  from genjax.data import pipeline  # pylint: disable=g-import-not-at-top
  batches = [pipeline.TrainBatches(s.train, s.config.data.batch_size, s.config.seed)
             .next_stacked(steps_per_call) for s in sessions]
  rngs, hps = [s.rng(1) for s in sessions], [s.hp for s in sessions]
  multistep = runner.make_multistep(lead.family.train_step)
  lanes = population.default_lanes(members)
  loop = population.LoopStepper(multistep, lead.mesh)
  make = {"vmap": lambda n: population.VmapStepper(multistep, lead.mesh, n),
          "loop": lambda n: loop}
  # "loop" in one lane is the members trained one after another: the baseline.
  steppers = {f"{mode}" + (f"_{n}lanes" if n > 1 else ""):
              population.Lanes(make[mode], members, n)
              for n in sorted({1, lanes}) for mode in ("vmap", "loop")}
  inputs = {k: st.inputs(rngs, hps) for k, st in steppers.items()}
  packed = {k: st.pack(fresh()) for k, st in steppers.items()}
  alive = [True] * members
  compile_s, times = {}, {k: [] for k in steppers}
  for key, stepper in steppers.items():
    start = time.perf_counter()
    packed[key] = jax.block_until_ready(stepper(packed[key], batches, inputs[key], alive))
    compile_s[key] = time.perf_counter() - start
  for _ in range(rounds):
    for key, stepper in steppers.items():
      start = time.perf_counter()
      packed[key] = jax.block_until_ready(stepper(packed[key], batches, inputs[key], alive))
      times[key].append(time.perf_counter() - start)
  member_steps = members * steps_per_call
  rate = {k: member_steps / float(np.median(v)) for k, v in times.items()}
  if profile:  # microseconds per member-step, by op kind, for each stepper
    for key, stepper in steppers.items():
      def call(key=key, stepper=stepper):
        packed[key] = stepper(packed[key], batches, inputs[key], alive)
        return packed[key]
      table = op_profile.per_op(call, calls=max(3, rounds))
      emit(case=name, profile=key, us_per_member_step={
          k: round(v / member_steps, 2) if k != "thunks" else v for k, v in table.items()})
  for stepper in steppers.values():
    stepper.close()
  auto_candidates = [k for k in steppers if k.endswith("lanes") == (lanes > 1)]
  states = fresh()
  stacked = population.stack([s for s, _ in states])
  stacked_acc = population.stack([a for _, a in states])
  host_batches = {k: np.stack([b[k] for b in batches]) for k in batches[0]}
  v_rngs, v_hps = population.VmapStepper(multistep, lead.mesh, members).inputs(rngs, hps)
  vmap_mem = _memory_bytes(jax.jit(jax.vmap(multistep)), stacked, host_batches, v_rngs, v_hps,
                           stacked_acc)
  solo_mem = _memory_bytes(jax.jit(multistep), states[0][0], batches[0], rngs[0], hps[0],
                           states[0][1])
  return emit(case=name, config=spec, members=members, steps_per_call=steps_per_call, rounds=rounds,
              backend=jax.default_backend(), devices=jax.device_count(),
              glibc_tunables=os.environ.get("GLIBC_TUNABLES", ""), load_avg=os.getloadavg(),
              lanes=lanes, member_steps_per_s={k: round(v, 1) for k, v in rate.items()},
              over_sequential={k: round(v / rate["loop"], 3) for k, v in rate.items()},
              auto_would_pick=max(auto_candidates, key=rate.get),
              compile_s={k: round(v, 2) for k, v in compile_s.items()},
              memory_mb={"vmap_population": round(vmap_mem / 2**20, 2),
                         "loop_one_member_at_a_time": round(solo_mem / 2**20, 2)})


def one_core_rates(name: str, members: int, rounds: int, steps_per_call: int) -> dict:
  """The case's member-steps/s per contender, timed in a child process pinned to one core."""
  core = min(os.sched_getaffinity(0))
  child = subprocess.run(
      [sys.executable, os.path.abspath(__file__), "--cases", name, "--members", str(members),
       "--rounds", str(rounds), "--steps_per_call", str(steps_per_call)],
      preexec_fn=lambda: os.sched_setaffinity(0, {core}), capture_output=True, text=True,
      check=True)
  records = [json.loads(line) for line in child.stdout.splitlines() if line.startswith("{")]
  return records[-1]["member_steps_per_s"]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--cases", default="vae_toy2d,gan_toy2d,vae_sprites32")
  parser.add_argument("--members", type=int, default=8)
  parser.add_argument("--rounds", type=int, default=15)
  parser.add_argument("--steps_per_call", type=int, default=0,
                      help="0: 20 for the MLP cases, 1 for convolutions (see runner.make_multistep)")
  parser.add_argument("--profile", action="store_true",
                      help="also print each stepper's time per member-step by op kind")
  parser.add_argument("--one_core", action="store_true",
                      help="also time each case on one core (a child process): the ceiling "
                      "that the cores stepping members independently would reach")
  args = parser.parse_args()
  for name in args.cases.split(","):
    spc = args.steps_per_call or (1 if "sprites" in name else 20)
    record = bench_case(name, args.members, args.rounds, spc, args.profile)
    cores = devices.usable_cores()
    if args.one_core and cores > 1:
      pinned = one_core_rates(name, args.members, args.rounds, spc)
      ceiling = cores * max(pinned.values())
      emit(case=name, one_core_member_steps_per_s=pinned, cores=cores,
           ceiling_member_steps_per_s=round(ceiling, 1),
           ceiling_over_sequential=round(ceiling / record["member_steps_per_s"]["loop"], 3))


if __name__ == "__main__":
  main()
