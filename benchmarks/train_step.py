"""Speed of the sprites beta-VAE train step: genjax against the same model in PyTorch.

  python benchmarks/train_step.py              # genjax vs PyTorch eager and torch.compile
  python benchmarks/train_step.py --variants   # also each earlier layer variant (README table)
  python benchmarks/train_step.py --no-compile --rounds 20
  python benchmarks/train_step.py --profile     # genjax's step only: its time by op kind
  python benchmarks/train_step.py --only genjax  # one framework alone in its process

The model is the beta-VAE of Burgess et al. (2018) on 64x64x1 sprites: four 4x4 stride-2
convolutions (32 channels), dense 256-256-20, the mirror decoder with transposed
convolutions; batch 64, latent 10, Bernoulli reconstruction + beta * KL (beta = 4), Adam
at 1e-4. genjax runs what users run: the VAE family's `train_step` from
configs/vae.py:sprites under `jax.jit(..., donate_argnums=0)`. PyTorch eager uses as many
threads as the process has cores, like XLA, and is also timed with one thread. The
contenders run in alternating blocks so that load from other processes hits all of them;
every figure is a median over steps, and the ratio is genjax's median over PyTorch eager's
(below 1: genjax is faster). Prints JSON lines; benchmarks/README.md explains the fields.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
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

import conv_variants  # noqa: E402
import op_profile  # noqa: E402
from genjax import config as gconfig  # noqa: E402
from genjax.core import devices  # noqa: E402
from genjax.data import sprites  # noqa: E402
from genjax.models import build_family  # noqa: E402
from genjax.nets.conv import num_stages  # noqa: E402

BATCH, BETA, LR = 64, 4.0, 1e-4


def emit(**record) -> None:
  print(json.dumps(record), flush=True)


def step_flops(side: int, in_ch: int, ch: int, hidden: int, latent: int, batch: int) -> int:
  """FLOPs of one train step: 2 per multiply-add, backward counted as twice the forward."""
  stages = num_stages(side)
  fwd, s, c = 0, side, in_ch
  for _ in range(stages):  # 4x4 stride-2 convolutions: 16 taps per output pixel
    s //= 2
    fwd += 2 * s * s * 16 * c * ch
    c = ch
  widths = [(16 * ch, hidden), (hidden, hidden), (hidden, 2 * latent),
            (latent, hidden), (hidden, hidden), (hidden, 16 * ch)]
  fwd += sum(2 * a * b for a, b in widths)
  for out in [ch] * (stages - 1) + [in_ch]:  # transposed: 16 taps per input pixel
    fwd += 2 * s * s * 16 * ch * out
    s *= 2
  return 3 * batch * fwd


def matmul_peak(n: int = 2048, repeats: int = 5) -> dict:
  """Best float32 GFLOP/s of an n x n matmul, in XLA and in numpy's BLAS (n = 8192 on a GPU,
  at XLA's default float32 precision there)."""
  if jax.default_backend() == "gpu":
    n = 8192
  a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
  dot = jax.jit(jnp.dot)
  aj = jnp.asarray(a)
  dot(aj, aj).block_until_ready()
  rates = {}
  for name, fn in (("jax", lambda: dot(aj, aj).block_until_ready()), ("numpy", lambda: a @ a)):
    best = min(_seconds(fn) for _ in range(repeats))
    rates[name] = 2 * n**3 / best / 1e9
  return rates


def _seconds(fn) -> float:
  t0 = time.perf_counter()
  fn()
  return time.perf_counter() - t0


def _timed(fn) -> tuple[float, float]:
  """(wall seconds, CPU seconds of this process, all threads) of one call."""
  t0, c0 = time.perf_counter(), time.process_time()
  fn()
  return time.perf_counter() - t0, time.process_time() - c0


# --- contenders: each runs a block of steps and returns per-step seconds -----------------

class CompiledStepTimer:
  """Times a compiled `step(state, batch, rng, hp) -> (state, metrics)` on a fixed batch;
  a subclass sets state, batch, rng, hp and step."""

  def run(self, n: int) -> list[tuple[float, float]]:
    return [_timed(self._step) for _ in range(n)]

  def _step(self):
    self.state, metrics = self.step(self.state, self.batch, self.rng, self.hp)
    jax.block_until_ready((self.state, metrics))


class GenjaxStep(CompiledStepTimer):
  """The VAE family's jitted train step, with the layers of `variant` (conv_variants)."""

  def __init__(self, x_BHWC: np.ndarray, variant: str = "default"):
    config = gconfig.load_config(os.path.join(ROOT, "configs/vae.py:sprites"),
                                 {"optim.learning_rate": str(LR)})
    info = sprites.load(config.data, "train").info
    self.batch = {"x": jnp.asarray(x_BHWC)}
    self.hp = {"beta": jnp.float32(BETA)}
    self.rng = jax.random.key(0)
    t0 = time.perf_counter()
    with conv_variants.layers(variant):  # layers are looked up while tracing
      family = build_family(config, info)
      self.state = family.init(jax.random.key(1), self.batch, self.hp)
      self.step = jax.jit(family.train_step, donate_argnums=0).lower(
          self.state, self.batch, self.rng, self.hp).compile()
    self.compile_s = time.perf_counter() - t0


def torch_vae(torch, ch=32, hidden=256, latent=10):
  """The same architecture in PyTorch (padding 1 = 'SAME' for these 4x4 stride-2 layers)."""
  nn = torch.nn

  class VAE(nn.Module):

    def __init__(self):
      super().__init__()
      down = [nn.Conv2d(1, ch, 4, 2, 1)] + [nn.Conv2d(ch, ch, 4, 2, 1) for _ in range(3)]
      self.enc = nn.Sequential(
          *[m for d in down for m in (d, nn.ReLU())], nn.Flatten(),
          nn.Linear(16 * ch, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
          nn.Linear(hidden, 2 * latent))
      up = [nn.ConvTranspose2d(ch, ch, 4, 2, 1) for _ in range(3)]
      self.dec = nn.Sequential(
          nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
          nn.Linear(hidden, 16 * ch), nn.ReLU(), nn.Unflatten(1, (ch, 4, 4)),
          *[m for u in up for m in (u, nn.ReLU())], nn.ConvTranspose2d(ch, 1, 4, 2, 1))

    def forward(self, x_BCHW):
      mean, logvar = self.enc(x_BCHW).chunk(2, dim=-1)
      z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
      logits = self.dec(z)
      rec = nn.functional.binary_cross_entropy_with_logits(
          logits, x_BCHW, reduction="none").sum((1, 2, 3))
      kl = 0.5 * (mean**2 + logvar.exp() - 1.0 - logvar).sum(-1)
      return (rec + BETA * kl).mean()

  return VAE()


class TorchStep:
  """A PyTorch train step (zero_grad, loss, backward, Adam), eager or under torch.compile."""

  def __init__(self, torch, x_BHWC: np.ndarray, compiled: bool, threads: int,
               device: str = "cpu"):
    torch.manual_seed(0)
    self.torch, self.threads, self.cuda = torch, threads, device == "cuda"
    self.model = torch_vae(torch).to(device)
    self.opt = torch.optim.Adam(self.model.parameters(), lr=LR)
    self.loss = torch.compile(self.model) if compiled else self.model
    self.x = torch.from_numpy(np.ascontiguousarray(x_BHWC.transpose(0, 3, 1, 2))).to(device)
    self.compile_s = _seconds(lambda: self.run(1)) if compiled else 0.0

  def run(self, n: int) -> list[tuple[float, float]]:
    saved = self.torch.get_num_threads()
    self.torch.set_num_threads(self.threads)
    try:
      return [_timed(self._step) for _ in range(n)]
    finally:
      self.torch.set_num_threads(saved)

  def _step(self):
    self.opt.zero_grad(set_to_none=True)
    self.loss(self.x).backward()
    self.opt.step()
    if self.cuda:  # time the work, not its launch
      self.torch.cuda.synchronize()


def interleave(contenders: dict, rounds: int, block: int, warmup: int = 3,
               faults: dict | None = None) -> dict:
  """(wall, CPU) seconds per step of each contender, `block` steps at a time, alternating.

  If `faults` is a dict, it receives each contender's minor page faults per step, one
  figure per block (the whole process's, but only that contender runs during its block).
  """
  for c in contenders.values():
    c.run(warmup)
  times = {name: [] for name in contenders}
  for _ in range(rounds):
    for name, c in contenders.items():
      before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
      times[name].append(c.run(block))
      if faults is not None:
        after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        faults.setdefault(name, []).append((after - before) / block)
  return times


def pipeline_throughput(num_batches: int = 100) -> list[dict]:
  """Examples/s of sprites rendering alone and of the full input pipeline (if present)."""
  config = gconfig.load_config(os.path.join(ROOT, "configs/vae.py:sprites"))
  source = sprites.load(config.data, "train")
  rng = np.random.default_rng(0)
  idx = [rng.integers(0, len(source), BATCH) for _ in range(num_batches)]
  source.get_batch(idx[0])
  out = [dict(bench="input", stage="sprites.render",
              examples_per_s=BATCH * num_batches / _seconds(
                  lambda: [source.get_batch(i) for i in idx]))]
  try:
    from genjax.data import pipeline
  except ImportError:
    return out
  batches = pipeline.TrainBatches(source, BATCH, seed=0)
  for _ in range(10):  # past the prefetch buffer's first fill
    next(batches)
  secs = _seconds(lambda: [next(batches) for _ in range(num_batches)])
  batches.close()
  out.append(dict(bench="input", stage="pipeline.TrainBatches",
                  examples_per_s=BATCH * num_batches / secs))
  return out


def summarise(name: str, blocks: list, ref: list | None, flops: int, peak: float,
              **extra) -> dict:
  """One contender's medians; `blocks` and `ref` hold per-round lists of (wall, CPU) pairs."""
  wall = np.array([w for b in blocks for w, _ in b])
  cpu = np.array([c for b in blocks for _, c in b])
  med = float(np.median(wall))
  rec = dict(bench="train_step", impl=name, median_ms=1e3 * med, steps_per_s=1 / med,
             p10_ms=1e3 * float(np.percentile(wall, 10)),
             p90_ms=1e3 * float(np.percentile(wall, 90)), cpu_median_ms=1e3 * np.median(cpu),
             steps=len(wall), gflops=flops / med / 1e9, peak_fraction=flops / med / 1e9 / peak,
             **extra)
  if ref is not None:
    ref_wall = [w for b in ref for w, _ in b]
    rec["ratio_to_torch_eager"] = med / float(np.median(ref_wall))
    # Ratio of each round's medians, then the median: robust to load that drifts between rounds.
    rec["paired_ratio"] = float(np.median([
        np.median([w for w, _ in a]) / np.median([w for w, _ in b]) for a, b in zip(blocks, ref)]))
  return rec


def main() -> None:
  global BATCH  # --batch replaces the default for every contender
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--rounds", type=int, default=10)
  parser.add_argument("--block", type=int, default=5)
  parser.add_argument("--variants", action="store_true",
                      help="also time each earlier layer variant of benchmarks/conv_variants.py")
  parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
  parser.add_argument("--no-input", action="store_true", help="skip the input-pipeline timing")
  parser.add_argument("--batch", type=int, default=BATCH, help="examples per step (64 as in the "
                      "papers; larger shows a GPU's throughput)")
  parser.add_argument("--only", choices=("genjax", "torch"), default=None,
                      help="time one framework alone in this process (the other's "
                      "allocations change the heap its steps see)")
  parser.add_argument("--profile", action="store_true",
                      help="only genjax's step, its time by op kind (benchmarks/op_profile.py)")
  args = parser.parse_args()
  BATCH = args.batch
  on_gpu = jax.default_backend() == "gpu"

  cpus = devices.usable_cores()
  source = sprites.load(gconfig.load_config(os.path.join(ROOT, "configs/vae.py:sprites")).data,
                        "train")
  x_BHWC = source.get_batch(np.arange(BATCH))["x"].astype(np.float32)
  flops = step_flops(x_BHWC.shape[1], x_BHWC.shape[3], 32, 256, 10, BATCH)
  env = dict(bench="env", jax=jax.__version__, backend=jax.default_backend(), cpus=cpus,
             xla_flags=os.environ.get("XLA_FLAGS", ""),
             glibc_tunables=os.environ.get("GLIBC_TUNABLES", ""), load_avg_start=os.getloadavg(),
             batch=BATCH, step_gflop=flops / 1e9)

  if args.profile:  # where genjax's step spends its time, op kind by op kind
    step = GenjaxStep(x_BHWC)
    step.run(3)

    def one_step():
      step.run(1)
      return step.state
    table = op_profile.per_op(one_step, calls=max(args.rounds, 5))
    emit(**env)
    emit(bench="op_profile", impl="genjax", ms_per_step={k: v if k == "thunks" else
                                                         round(v / 1e3, 2)
                                                         for k, v in table.items()})
    return

  contenders, compile_s = {}, {}
  names = ["default"] + ([v for v in conv_variants.VARIANTS if v != "default"]
                         if args.variants else [])
  if args.only == "torch":
    names = []
  for v in names:
    key = "genjax" if v == "default" else f"genjax[{v}]"
    contenders[key] = GenjaxStep(x_BHWC, v)
    compile_s[key] = contenders[key].compile_s
  torch = None
  if args.only == "genjax":
    env["torch"] = "left out (--only=genjax)"
  else:
    try:
      import torch  # pylint: disable=g-import-not-at-top
    except ImportError:
      env["torch"] = "not installed: pip install -e .[bench]"
  device = "cuda" if on_gpu and torch is not None and torch.cuda.is_available() else "cpu"
  if torch is not None:
    torch.set_num_threads(cpus)
    env.update(torch=torch.__version__, torch_threads=torch.get_num_threads(), torch_device=device)
    contenders["torch_eager"] = TorchStep(torch, x_BHWC, compiled=False, threads=cpus,
                                          device=device)
    if device == "cpu":  # one thread cannot lose time to OpenMP barriers under load
      contenders["torch_eager_1thread"] = TorchStep(torch, x_BHWC, compiled=False, threads=1)
    if not args.no_compile:
      try:
        contenders["torch_compile"] = TorchStep(torch, x_BHWC, compiled=True, threads=cpus,
                                                device=device)
        compile_s["torch_compile"] = contenders["torch_compile"].compile_s
      except Exception as e:  # inductor needs a working C++ toolchain
        env["torch_compile"] = f"failed: {type(e).__name__}: {str(e)[:200]}"
  emit(**env)

  peak = matmul_peak()
  faults = {}
  times = interleave(contenders, args.rounds, args.block, faults=faults)
  peak_after = matmul_peak()
  best_peak = max(*peak.values(), *peak_after.values())
  emit(bench="matmul_peak", n=2048, jax_gflops=max(peak["jax"], peak_after["jax"]),
       numpy_gflops=max(peak["numpy"], peak_after["numpy"]), peak_gflops=best_peak)

  ref = times.get("torch_eager")
  records = [summarise(name, blocks, ref if name != "torch_eager" else None, flops, best_peak,
                       compile_s=compile_s.get(name, 0.0),
                       minor_faults_per_step=float(np.median(faults[name])))
             for name, blocks in times.items()]
  for rec in records:
    emit(**rec)
  if not args.no_input:
    for rec in pipeline_throughput():
      emit(**rec)
  by_impl = {r["impl"]: r for r in records}
  if "genjax" not in by_impl:  # --only torch
    return
  ours, one = by_impl["genjax"], by_impl.get("torch_eager_1thread")
  emit(bench="summary", genjax_median_ms=ours["median_ms"],
       ratio_to_torch_eager=ours.get("ratio_to_torch_eager"),
       paired_ratio=ours.get("paired_ratio"), peak_fraction=ours["peak_fraction"],
       ratio_to_torch_eager_1thread=one and ours["median_ms"] / one["median_ms"],
       # CPU seconds per step: the work done, which load from other processes barely changes.
       cpu_ratio_to_torch_eager_1thread=one and ours["cpu_median_ms"] / one["cpu_median_ms"],
       load_avg_end=os.getloadavg())


if __name__ == "__main__":
  main()
