"""Small dense layers on XLA:CPU: alone, batched over members, and split over CPU devices.

  python benchmarks/cpu_batched_dots.py            # ~30 s; the CPU split into 2 devices

Why a population of small MLPs gains little on a CPU (benchmarks/README.md, population
section). Each contender runs a chain of 20 `tanh(x @ w)` with x [64, 64] and w [64, 64]
per member (a toy2d layer), 8 members, compiled once, timed over calls (medians of 5
blocks; wall and process CPU microseconds per call):

  solo x8        the one-member chain called for each member in turn
  batched        one program, `einsum('mbi,mio->mbo')` over the 8 members
  sharded        the batched program with the member axis sharded over 2 CPU devices
  halves         two batched programs of 4 members, one per CPU device, dispatched back
                 to back (JAX dispatch is asynchronous, so they may overlap)
"""
from __future__ import annotations

import json
import os
import time

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_force_host_platform_device_count=2")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jax.sharding import NamedSharding, PartitionSpec  # noqa: E402
import numpy as np  # noqa: E402

MEMBERS, BATCH, WIDTH, CHAIN = 8, 64, 64, 20


def chain(product):
  """CHAIN products, each followed by tanh, as one compiled scan."""
  def run(x, w):
    body = lambda carry, _: (jnp.tanh(product(carry, w)), None)
    return jax.lax.scan(body, x, None, length=CHAIN)[0]
  return jax.jit(run)


def timed(call, calls: int = 100, blocks: int = 5) -> dict:
  jax.block_until_ready(call())
  walls, cpus = [], []
  for _ in range(blocks):
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
      out = call()
    jax.block_until_ready(out)
    walls.append((time.perf_counter() - wall) / calls * 1e6)
    cpus.append((time.process_time() - cpu) / calls * 1e6)
  return {"wall_us": round(float(np.median(walls)), 1), "cpu_us": round(float(np.median(cpus)), 1)}


def main() -> None:
  dev = jax.devices()
  x_MBI = jax.random.normal(jax.random.key(0), (MEMBERS, BATCH, WIDTH))
  w_MIO = jax.random.normal(jax.random.key(1), (MEMBERS, WIDTH, WIDTH)) / WIDTH**0.5
  solo = chain(lambda x, w: x @ w)
  batched = chain(lambda x, w: jnp.einsum("mbi,mio->mbo", x, w))
  on0 = lambda a: jax.device_put(a, dev[0])
  xs, ws = [on0(x_MBI[m]) for m in range(MEMBERS)], [on0(w_MIO[m]) for m in range(MEMBERS)]
  members = NamedSharding(jax.make_mesh((2,), ("m",)), PartitionSpec("m"))
  x_sharded, w_sharded = jax.device_put(x_MBI, members), jax.device_put(w_MIO, members)
  half = MEMBERS // 2
  halves = [(jax.device_put(x_MBI[i * half:(i + 1) * half], dev[i]),
             jax.device_put(w_MIO[i * half:(i + 1) * half], dev[i])) for i in range(2)]
  batched_args = (on0(x_MBI), on0(w_MIO))
  flops = 2 * MEMBERS * CHAIN * BATCH * WIDTH * WIDTH
  contenders = {
      "solo x8": lambda: [solo(x, w) for x, w in zip(xs, ws)],
      "batched": lambda: batched(*batched_args),
      "sharded": lambda: batched(x_sharded, w_sharded),
      "halves": lambda: [batched(x, w) for x, w in halves],
  }
  for name, call in contenders.items():
    rec = timed(call)
    rec.update(contender=name, gflops=round(flops / rec["wall_us"] / 1e3, 1),
               devices=len(dev), backend=jax.default_backend(), load_avg=os.getloadavg()[0])
    print(json.dumps(rec), flush=True)


if __name__ == "__main__":
  main()
