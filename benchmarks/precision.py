"""Speed of train.precision: float32 against bfloat16 train steps, and the -ELBO of both.

  python benchmarks/precision.py                         # both models, 10 rounds (~5 min, 2 CPUs)
  python benchmarks/precision.py --models vae --rounds 20 --block 5
  python benchmarks/precision.py --batch 256 --unet_upscale 4   # GPU-sized work
  python benchmarks/precision.py --elbo runs/f32 runs/bf16       # held-out -ELBO, both precisions

Models: `vae`, the beta-VAE of configs/vae.py:sprites (64x64x1 sprites, Burgess et al.'s
conv nets, batch 64, beta 4; the model of train_step.py), and `unet`, the label-conditional
diffusion U-Net of configs/diffusion.py:digits (8x8x1, or 8u x 8u with --unet_upscale u;
GroupNorm, attention, batch 64). Each is built twice from its config, once with
train.precision='float32' and once with 'bfloat16', and its `train_step` compiled under
`jax.jit(..., donate_argnums=0)`; the two contenders run in alternating blocks of --block
steps on a fixed batch (train_step.py's protocol), so load from other processes hits both.
Per contender it prints the median wall and CPU ms per step; per model the ratio of the
bfloat16 median to the float32 one (below 1: bfloat16 is faster) and the median of the
per-round ratios. The header records the machine, load average and library versions, and
the best n x n matmul rate in each dtype (what the hardware offers bfloat16).

--elbo evaluates runs' latest checkpoints instead: the `elbo` evaluator on each run's
held-out data, with its VAE computing in float32 and in bfloat16 (the params are float32
either way), so the effect of training in bfloat16 and of evaluating in it show apart.

Prints JSON lines; benchmarks/README.md explains the fields.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
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
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import diffusion as diffusion_bench  # noqa: E402
from genjax import config as gconfig  # noqa: E402
from genjax.core import devices  # noqa: E402
from genjax.core.dataset import DatasetInfo  # noqa: E402
from genjax.data import sprites  # noqa: E402
from genjax.models import build_family  # noqa: E402
from train_step import CompiledStepTimer, _timed, emit, interleave  # noqa: E402

PRECISIONS = ("float32", "bfloat16")
VAE_CONFIG = os.path.join(ROOT, "configs/vae.py:sprites")


def machine() -> dict:
  """The CPU model, core count and accelerator this process runs on."""
  cpu = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
  except (OSError, StopIteration):
    pass
  cpus = devices.usable_cores()
  return dict(cpu=cpu, cpus=cpus, backend=jax.default_backend(),
              device=jax.devices()[0].device_kind, num_devices=jax.device_count())


def versions() -> dict:
  import flax  # pylint: disable=g-import-not-at-top
  import jaxlib  # pylint: disable=g-import-not-at-top
  import optax  # pylint: disable=g-import-not-at-top
  return dict(python=platform.python_version(), jax=jax.__version__, jaxlib=jaxlib.__version__,
              flax=flax.__version__, optax=optax.__version__, numpy=np.__version__)


def matmul_rate(dtype, repeats: int = 5) -> float:
  """Best GFLOP/s of an n x n matmul in `dtype` (n = 2048 on a CPU, 8192 on a GPU)."""
  n = 8192 if jax.default_backend() == "gpu" else 2048
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dtype)
  dot = jax.jit(jnp.dot)
  dot(a, a).block_until_ready()
  best = min(_timed(lambda: dot(a, a).block_until_ready())[0] for _ in range(repeats))
  return 2 * n**3 / best / 1e9


class FamilyStep(CompiledStepTimer):
  """A family's jitted train step (donated state) on a fixed batch, built from `config`."""

  def __init__(self, config, info, batch: dict):
    self.family = build_family(config, info)
    self.hp = gconfig.hparams_as_arrays(config)
    self.batch = {k: jnp.asarray(v) for k, v in batch.items()}
    self.rng = jax.random.key(0)
    self.state = self.family.init(jax.random.key(1), self.batch, self.hp)
    t0 = time.perf_counter()
    self.step = jax.jit(self.family.train_step, donate_argnums=0).lower(
        self.state, self.batch, self.rng, self.hp).compile()
    self.compile_s = time.perf_counter() - t0


def vae_steps(batch_size: int) -> dict[str, FamilyStep]:
  """The sprites beta-VAE's step in each precision, on the first `batch_size` sprites."""
  out = {}
  for precision in PRECISIONS:
    config = gconfig.load_config(VAE_CONFIG, {"train.precision": precision,
                                              "data.batch_size": str(batch_size)})
    source = sprites.load(config.data, "train")
    batch = {"x": source.get_batch(np.arange(batch_size))["x"].astype(np.float32)}
    out[f"vae/{precision}"] = FamilyStep(config, source.info, batch)
  return out


def unet_steps(batch_size: int, upscale: int) -> dict[str, FamilyStep]:
  """The digits diffusion U-Net's step in each precision, on a synthetic digit batch."""
  out = {}
  for precision in PRECISIONS:
    family, config = diffusion_bench.digits_family(
        {"train.precision": precision, "data.upscale": str(upscale)})
    batch = diffusion_bench.synthetic_batch(batch_size, family.x_shape[0])
    info = DatasetInfo(name="digits", x_shape=family.x_shape, kind="image", binary=False,
                       num_classes=10)  # as diffusion_bench.digits_family describes it
    out[f"unet/{precision}"] = FamilyStep(config, info, batch)
  return out


def summarise(name: str, blocks: list, compile_s: float) -> dict:
  """One contender's medians over all steps; `blocks` holds per-round (wall, CPU) pairs."""
  wall = np.array([w for b in blocks for w, _ in b])
  cpu = np.array([c for b in blocks for _, c in b])
  model, precision = name.split("/")
  return dict(bench="precision_step", model=model, precision=precision,
              median_ms=1e3 * float(np.median(wall)), cpu_median_ms=1e3 * float(np.median(cpu)),
              p10_ms=1e3 * float(np.percentile(wall, 10)),
              p90_ms=1e3 * float(np.percentile(wall, 90)), steps=len(wall), compile_s=compile_s)


def ratios(model: str, times: dict) -> dict:
  """bfloat16 over float32: of the medians, and the median of the per-round ratios."""
  f32, bf16 = times[f"{model}/float32"], times[f"{model}/bfloat16"]
  med = lambda blocks, i: float(np.median([t[i] for b in blocks for t in b]))
  per_round = [np.median([w for w, _ in b]) / np.median([w for w, _ in a])
               for a, b in zip(f32, bf16)]
  return dict(bench="precision_ratio", model=model, bf16_over_f32=med(bf16, 0) / med(f32, 0),
              cpu_bf16_over_f32=med(bf16, 1) / med(f32, 1),
              paired_ratio=float(np.median(per_round)))


def elbo_of_runs(workdirs: list[str]) -> None:
  """Each run's held-out -ELBO (its `elbo` evaluator) with the VAE in each precision."""
  from genjax import evals as gevals  # pylint: disable=g-import-not-at-top
  from genjax.train import session as gsession  # pylint: disable=g-import-not-at-top
  for workdir in workdirs:
    _, ctx = gsession.load_trained(workdir)
    trained = gconfig.optional(ctx.config, "train.precision")
    for precision in PRECISIONS:
      ctx_p = dataclasses.replace(ctx, family=dataclasses.replace(ctx.family, precision=precision),
                                  _compiled={})
      metrics = gevals.EVALUATORS["elbo"](ctx_p, ctx.config.evals.get("elbo", {}))
      emit(bench="precision_elbo", workdir=workdir, step=ctx.step, trained_in=trained,
           evaluated_in=precision, nelbo_nats=metrics["nelbo_nats"],
           rec_nats=metrics["rec_nats"], kl_nats=metrics["kl_nats"],
           num_examples=metrics["num_examples"])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--models", default="vae,unet", help="comma-separated: vae, unet")
  parser.add_argument("--rounds", type=int, default=10)
  parser.add_argument("--block", type=int, default=5)
  parser.add_argument("--batch", type=int, default=64, help="examples per step")
  parser.add_argument("--unet_upscale", type=int, default=1,
                      help="digits upscaled u times for the U-Net (8u x 8u images)")
  parser.add_argument("--elbo", nargs="+", metavar="WORKDIR",
                      help="evaluate these VAE runs' -ELBO in both precisions instead")
  args = parser.parse_args()
  emit(bench="env", **machine(), **versions(), load_avg_start=os.getloadavg(),
       xla_flags=os.environ.get("XLA_FLAGS", ""),
       glibc_tunables=os.environ.get("GLIBC_TUNABLES", ""))
  if args.elbo:
    elbo_of_runs(args.elbo)
    emit(bench="end", load_avg_end=os.getloadavg())
    return
  emit(bench="matmul", **{f"{p}_gflops": matmul_rate(jnp.dtype(p)) for p in PRECISIONS})
  contenders = {}
  models = args.models.split(",")
  if "vae" in models:
    contenders.update(vae_steps(args.batch))
  if "unet" in models:
    contenders.update(unet_steps(args.batch, args.unet_upscale))
  times = interleave(contenders, args.rounds, args.block)
  for name, blocks in times.items():
    emit(**summarise(name, blocks, contenders[name].compile_s))
  for model in models:
    emit(**ratios(model, times))
  emit(bench="end", load_avg_end=os.getloadavg())


if __name__ == "__main__":
  main()
