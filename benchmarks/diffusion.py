"""Speed of the diffusion family on the digits U-Net: DDPM against DDIM sampling, and the
train step against the same U-Net in PyTorch.

  python benchmarks/diffusion.py                 # the protocol: DDPM 1000 vs DDIM 50 steps
  python benchmarks/diffusion.py --device gpu    # JAX on the GPU, PyTorch on CUDA
  python benchmarks/diffusion.py --rounds 3 --block 2 --ddpm_steps 100 --torch_threads 1
                                                 # a quick check (about 3 min on 2 busy cores)

The network is the one of configs/diffusion.py:digits: a label-conditional U-Net on 8x8x1
digits (widths 32 and 64, GroupNorm, self-attention at 4x4, sinusoidal time embedding),
sampled with classifier-free guidance 1.0 (each step evaluates the net on 2 x num_samples
inputs). Parameters are untrained (the family's initialisation): speed does not depend on
their values, but the samples are not digits.

1. Sampling: the family's own compiled `sample` with the sampler and step count set through
   config.model.sampler / model.sample_steps, exactly as `genjax sample --sampler=ddim
   --steps=50` sets them, jitted as the CLI does (num static). Each round draws one batch
   with each sampler; it prints median seconds per batch, samples/s and their ratio.
2. Train step: the family's `train_step` (eps-prediction MSE, label dropout 0.1, gradient
   clipping at norm 1, Adam, EMA update) under `jax.jit(..., donate_argnums=0)`, against a
   PyTorch U-Net written here to match it layer for layer: it loads the genjax parameters,
   the parameter counts are asserted equal and its output is checked against genjax's
   before timing. Its step does the same work (quantise, draw t and noise, label dropout,
   MSE, backward, clip, Adam, EMA). The contenders alternate in blocks of --block steps.

Prints JSON lines; benchmarks/README.md explains the fields.
"""
from __future__ import annotations

import argparse
import math
import os
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

import jax  # noqa: E402  (backends are chosen in main, before first use)
import jax.numpy as jnp  # noqa: E402

from genjax import config as gconfig  # noqa: E402
from genjax.core import devices  # noqa: E402
from genjax.core.dataset import DatasetInfo  # noqa: E402
from genjax.models import build_family  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# the shared timing protocol
from train_step import CompiledStepTimer, _timed, emit, interleave  # noqa: E402

CONFIG = os.path.join(ROOT, "configs/diffusion.py:digits")


def matmul_peak(on_gpu: bool, repeats: int = 5) -> float:
  """Best float32 GFLOP/s of an n x n matmul in XLA at the default precision (n = 2048 on a
  CPU, 8192 on a GPU, where the default precision is TF32)."""
  n = 8192 if on_gpu else 2048
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  dot = jax.jit(jnp.dot)
  dot(a, a).block_until_ready()
  best = min(_timed(lambda: dot(a, a).block_until_ready())[0] for _ in range(repeats))
  return 2 * n**3 / best / 1e9


# --- genjax ------------------------------------------------------------------------------

def digits_family(overrides: dict[str, str]):
  """(family, config) from configs/diffusion.py:digits; no dataset is read.

  The digits loader needs scikit-learn, which the benchmark does not; speed only needs the
  shapes, so the dataset description is written out (8x8x1 images, 10 classes).
  """
  config = gconfig.load_config(CONFIG, overrides)
  side = 8 * int(config.data.upscale)
  info = DatasetInfo(name="digits", x_shape=(side, side, 1), kind="image", binary=False,
                     num_classes=10)
  return build_family(config, info), config


def synthetic_batch(batch: int, side: int, seed: int = 0) -> dict[str, np.ndarray]:
  """Digit-like records: pixels on the data's grid of 17 values in [0, 1], labels 0..9."""
  rng = np.random.default_rng(seed)
  x = rng.integers(0, 17, (batch, side, side, 1)).astype(np.float32) / 16.0
  return {"x": x, "label": rng.integers(0, 10, batch).astype(np.int32)}


class GenjaxSampler:
  """The family's `sample`, jitted for `num` samples, with model.sampler and model.sample_steps
  set the way `genjax sample --sampler=S --steps=N` sets them."""

  def __init__(self, sampler: str, steps: int, num: int):
    self.family, config = digits_family(
        {"model.sampler": sampler, "model.sample_steps": str(steps)})
    self.hp = gconfig.hparams_as_arrays(config)
    batch = {k: jnp.asarray(v) for k, v in synthetic_batch(1, self.family.x_shape[0]).items()}
    self.state = self.family.init(jax.random.key(1), batch, self.hp)
    self.rng = jax.random.key(2)
    t0 = time.perf_counter()
    self.fn = jax.jit(self.family.sample, static_argnums=(2,))
    self.num = num
    jax.block_until_ready(self.fn(self.state, self.rng, num, self.hp))
    self.compile_s = time.perf_counter() - t0  # compile + one run

  def run(self, n: int) -> list[tuple[float, float]]:
    return [_timed(lambda: jax.block_until_ready(
        self.fn(self.state, self.rng, self.num, self.hp))) for _ in range(n)]


class GenjaxStep(CompiledStepTimer):
  """The diffusion family's jitted train step (donated state), on a fixed batch."""

  def __init__(self, batch_size: int, compile_step: bool = True):
    self.family, self.config = digits_family({})
    self.hp = gconfig.hparams_as_arrays(self.config)
    batch = synthetic_batch(batch_size, self.family.x_shape[0])
    self.batch = {k: jnp.asarray(v) for k, v in batch.items()}
    self.rng = jax.random.key(0)
    self.state = self.family.init(jax.random.key(1), self.batch, self.hp)
    self.params = jax.tree.map(np.asarray, self.state.params["net"])  # before donation
    t0 = time.perf_counter()
    if compile_step:
      self.step = jax.jit(self.family.train_step, donate_argnums=0).lower(
          self.state, self.batch, self.rng, self.hp).compile()
    self.compile_s = time.perf_counter() - t0


# --- the same U-Net in PyTorch -------------------------------------------------------------

def torch_unet(torch, channels: int, channel_mults, num_res_blocks: int, num_classes: int,
               in_ch: int = 1):
  """genjax.nets.diffusion_unet.UNet in PyTorch (NCHW), its submodules named as flax names
  them (ResBlock_3.Conv_0 ...) so that `load_flax_params` maps parameters one to one.

  Flax details matched: GroupNorm groups gcd(C, 32) with epsilon 1e-6; 'SAME' padding of the
  stride-2 3x3 convolution pads only bottom/right by one; attention is single-head with
  1/sqrt(C) scaling; the label table has num_classes + 1 rows (the last is 'no label').
  """
  nn, F = torch.nn, torch.nn.functional

  def norm(c):
    return nn.GroupNorm(math.gcd(c, 32), c, eps=1e-6)

  class ResBlock(nn.Module):

    def __init__(self, cin, cout, emb):
      super().__init__()
      self.GroupNorm_0, self.Conv_0 = norm(cin), nn.Conv2d(cin, cout, 3, padding=1)
      self.Dense_0 = nn.Linear(emb, cout)
      self.GroupNorm_1, self.Conv_1 = norm(cout), nn.Conv2d(cout, cout, 3, padding=1)
      self.Conv_2 = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, emb):
      h = self.Conv_0(F.silu(self.GroupNorm_0(x)))
      h = h + self.Dense_0(F.silu(emb))[:, :, None, None]
      h = self.Conv_1(F.silu(self.GroupNorm_1(h)))
      return (x if self.Conv_2 is None else self.Conv_2(x)) + h

  class AttentionBlock(nn.Module):

    def __init__(self, c):
      super().__init__()
      self.GroupNorm_0, self.Dense_0, self.Dense_1 = norm(c), nn.Linear(c, 3 * c), nn.Linear(c, c)

    def forward(self, x):
      b, c, hgt, wid = x.shape
      h = self.GroupNorm_0(x).flatten(2).transpose(1, 2)[:, None]  # [B, 1 head, HW, C]
      q, k, v = self.Dense_0(h).chunk(3, dim=-1)
      out = self.Dense_1(F.scaled_dot_product_attention(q, k, v))[:, 0]
      return x + out.transpose(1, 2).reshape(b, c, hgt, wid)

  class TimeEmbedding(nn.Module):

    def __init__(self, width):
      super().__init__()
      self.width = width
      self.Dense_0, self.Dense_1 = nn.Linear(width, width), nn.Linear(width, width)
      self.Embed_0 = nn.Embedding(num_classes + 1, width) if num_classes else None

    def forward(self, t, label):
      half = self.width // 2
      freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, device=t.device,
                                                           dtype=torch.float32) / half)
      angles = t.float()[:, None] * freqs[None, :]
      h = self.Dense_1(F.silu(self.Dense_0(torch.cat([angles.sin(), angles.cos()], -1))))
      return h if self.Embed_0 is None else h + self.Embed_0(label)

  class UNet(nn.Module):

    def __init__(self):
      super().__init__()
      count = {"ResBlock": 0, "Conv": 0}

      def add(kind, module):
        name = f"{kind}_{count[kind]}"
        count[kind] += 1
        setattr(self, name, module)
        return name

      ch, emb, last = channels, 4 * channels, len(channel_mults) - 1
      self.TimeEmbedding_0 = TimeEmbedding(emb)
      self.conv_in = add("Conv", nn.Conv2d(in_ch, ch, 3, padding=1))
      self.down, self.up, skips, c = [], [], [ch], ch
      for level, mult in enumerate(channel_mults):
        for _ in range(num_res_blocks):
          self.down.append(("res", add("ResBlock", ResBlock(c, ch * mult, emb))))
          c = ch * mult
          skips.append(c)
        if level != last:
          self.down.append(("down", add("Conv", nn.Conv2d(c, c, 3, stride=2))))
          skips.append(c)
      self.mid = [add("ResBlock", ResBlock(c, c, emb)), add("ResBlock", ResBlock(c, c, emb))]
      self.AttentionBlock_0 = AttentionBlock(c)
      for level in reversed(range(len(channel_mults))):
        for _ in range(num_res_blocks + 1):
          width = ch * channel_mults[level]
          self.up.append(("res", add("ResBlock", ResBlock(c + skips.pop(), width, emb))))
          c = width
        if level:
          self.up.append(("up", add("Conv", nn.Conv2d(c, c, 3, padding=1))))
      self.GroupNorm_0 = norm(c)
      self.conv_out = add("Conv", nn.Conv2d(c, in_ch, 3, padding=1))

    def forward(self, x_BCHW, t_B, label_B=None):
      emb = self.TimeEmbedding_0(t_B, label_B)
      h = getattr(self, self.conv_in)(x_BCHW)
      skips = [h]
      for kind, name in self.down:
        if kind == "res":
          h = getattr(self, name)(h, emb)
        else:  # 'SAME' for stride 2 on an even side: one row/column of zeros after, none before
          h = getattr(self, name)(F.pad(h, (0, 1, 0, 1)))
        skips.append(h)
      h = getattr(self, self.mid[0])(h, emb)
      h = getattr(self, self.mid[1])(self.AttentionBlock_0(h), emb)
      for kind, name in self.up:
        if kind == "res":
          h = getattr(self, name)(torch.cat([h, skips.pop()], dim=1), emb)
        else:
          h = getattr(self, name)(F.interpolate(h, scale_factor=2, mode="nearest"))
      return getattr(self, self.conv_out)(F.silu(self.GroupNorm_0(h)))

  return UNet()


def load_flax_params(torch, model, params) -> None:
  """Copies a flax UNet's parameters into `torch_unet`'s model, asserting a one-to-one match."""
  flat = {}
  for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
    keys = [p.key for p in path]
    leaf = np.array(leaf)  # a writable copy
    if keys[-1] == "kernel":
      leaf = leaf.transpose(3, 2, 0, 1) if leaf.ndim == 4 else leaf.T  # HWIO -> OIHW; (in, out)
    name = {"kernel": "weight", "scale": "weight", "embedding": "weight"}.get(keys[-1], keys[-1])
    flat[".".join(keys[:-1] + [name])] = torch.from_numpy(np.ascontiguousarray(leaf))
  state = model.state_dict()
  if set(flat) != set(state):
    raise AssertionError(f"parameter names differ: only genjax {sorted(set(flat) - set(state))}, "
                         f"only torch {sorted(set(state) - set(flat))}")
  for name, value in flat.items():
    if tuple(value.shape) != tuple(state[name].shape):
      raise AssertionError(
          f"{name}: genjax {tuple(value.shape)} vs torch {tuple(state[name].shape)}")
  model.load_state_dict(flat)


def check_same_function(torch, family, params, device: str) -> float:
  """Max |genjax - torch| / max |genjax| of the two nets' outputs on random inputs, with every
  parameter perturbed (the untrained output layers are zero, which would hide a mismatch)."""
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(3), len(leaves))
  noisy = jax.tree.unflatten(tree, [p + 0.1 * jax.random.normal(k, p.shape)
                                    for p, k in zip(leaves, keys)])
  net, side = family.net, family.x_shape[0]
  rng = np.random.default_rng(1)
  x = rng.standard_normal((4, side, side, 1)).astype(np.float32)
  t = rng.integers(0, family.schedule.num_steps, 4).astype(np.int32)
  label = rng.integers(0, family.num_classes + 1, 4).astype(np.int32)
  want = np.asarray(net.apply({"params": noisy}, x, t, label))
  model = torch_unet(torch, net.channels, net.channel_mults, net.num_res_blocks, net.num_classes)
  load_flax_params(torch, model, noisy)
  model.to(device)
  with torch.no_grad():
    got = model(*(torch.from_numpy(a).to(device) for a in (x.transpose(0, 3, 1, 2), t, label)))
  got = got.cpu().numpy().transpose(0, 2, 3, 1)
  return float(np.abs(got - want).max() / np.abs(want).max())


class TorchStep:
  """The same train step in PyTorch eager: quantise, t and noise, label dropout, eps MSE,
  backward, clip at global norm 1, Adam (betas, eps and rate of the config), EMA."""

  def __init__(self, torch, genjax_step: GenjaxStep, device: str, threads: int):
    fam, config = genjax_step.family, genjax_step.config
    net, o = fam.net, config.optim
    self.torch, self.threads, self.cuda = torch, threads, device == "cuda"
    torch.manual_seed(0)
    self.model = torch_unet(torch, net.channels, net.channel_mults, net.num_res_blocks,
                            net.num_classes)
    load_flax_params(torch, self.model, genjax_step.params)  # same starting point
    self.model.to(device)
    self.params = list(self.model.parameters())
    self.ema = [p.detach().clone() for p in self.params]
    self.opt = torch.optim.Adam(self.params, lr=o.learning_rate, betas=(o.b1, o.b2), eps=o.eps)
    self.grad_clip, self.ema_decay = float(o.grad_clip), float(config.hparams.ema_decay)
    self.num_classes, self.dropout = fam.num_classes, fam.label_dropout
    ab = fam.schedule.alpha_bars
    self.sqrt_ab = torch.tensor(np.sqrt(ab), dtype=torch.float32, device=device)
    self.sqrt_1m_ab = torch.tensor(np.sqrt(1.0 - ab), dtype=torch.float32, device=device)
    batch = {k: np.asarray(v) for k, v in genjax_step.batch.items()}
    self.x = torch.from_numpy(batch["x"].transpose(0, 3, 1, 2).copy()).to(device)
    self.label = torch.from_numpy(batch["label"].astype(np.int64)).to(device)

  def run(self, n: int) -> list[tuple[float, float]]:
    saved = self.torch.get_num_threads()
    self.torch.set_num_threads(self.threads)
    try:
      return [_timed(self._step) for _ in range(n)]
    finally:
      self.torch.set_num_threads(saved)

  def loss(self):
    torch, F = self.torch, self.torch.nn.functional
    b = self.x.shape[0]
    x0 = torch.round(self.x * 255.0) / 255.0 * 2.0 - 1.0  # the 8-bit grid, on [-1, 1]
    t = torch.randint(0, len(self.sqrt_ab), (b,), device=self.x.device)
    noise = torch.randn_like(x0)
    x_t = self.sqrt_ab[t].view(b, 1, 1, 1) * x0 + self.sqrt_1m_ab[t].view(b, 1, 1, 1) * noise
    drop = torch.rand(b, device=self.x.device) < self.dropout
    label = torch.where(drop, torch.full_like(self.label, self.num_classes), self.label)
    return F.mse_loss(self.model(x_t, t, label), noise)

  def _step(self):
    torch = self.torch
    self.opt.zero_grad(set_to_none=True)
    self.loss().backward()
    torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
    self.opt.step()
    with torch.no_grad():
      torch._foreach_lerp_(self.ema, self.params, 1.0 - self.ema_decay)
    if self.cuda:  # time the work, not its launch
      torch.cuda.synchronize()


def count_flops(torch, step: TorchStep) -> tuple[float, float]:
  """(forward FLOPs per example, train-step FLOPs) of the U-Net, as PyTorch's FlopCounterMode
  counts them: 2 per multiply-add of convolutions, dense layers and attention products, for
  the ops actually run (the backward of the first layer skips the input gradient). Norms,
  activations and the optimiser are not counted."""
  from torch.utils.flop_counter import FlopCounterMode
  with FlopCounterMode(display=False) as counter:
    step.loss().backward()
  train = counter.get_total_flops()
  step.opt.zero_grad(set_to_none=True)
  x = step.x[:1]
  with FlopCounterMode(display=False) as counter, torch.no_grad():
    step.model(x, torch.zeros(1, dtype=torch.long, device=x.device), step.label[:1])
  return float(counter.get_total_flops()), float(train)


# --- protocol ------------------------------------------------------------------------------

def medians(blocks: list) -> dict:
  wall = np.array([w for b in blocks for w, _ in b])
  cpu = np.array([c for b in blocks for _, c in b])
  return dict(median_s=float(np.median(wall)), p10_s=float(np.percentile(wall, 10)),
              p90_s=float(np.percentile(wall, 90)), cpu_median_s=float(np.median(cpu)),
              calls=len(wall))


def paired_ratio(blocks: list, ref: list) -> float:
  """Median over rounds of (this round's median / the reference's): robust to drifting load."""
  return float(np.median([np.median([w for w, _ in a]) / np.median([w for w, _ in b])
                          for a, b in zip(blocks, ref)]))


def bench_sampling(args, fwd_flops: float | None, peak: float) -> None:
  samplers = {"ddpm": GenjaxSampler("ddpm", args.ddpm_steps, args.num_samples),
              "ddim": GenjaxSampler("ddim", args.ddim_steps, args.num_samples)}
  steps = {"ddpm": args.ddpm_steps, "ddim": args.ddim_steps}
  some = samplers["ddim"]  # guidance evaluates the net on conditional and null labels together
  guided = 2 if some.family.num_classes and float(some.hp["guidance"]) else 1
  times = interleave(samplers, args.sample_rounds, 1, warmup=0)  # compiling ran each once
  out = {}
  for name, s in samplers.items():
    m = medians(times[name])
    rec = dict(bench="sample", sampler=name, steps=steps[name], num_samples=args.num_samples,
               net_batch=guided * args.num_samples, compile_and_first_s=s.compile_s, **m,
               samples_per_s=args.num_samples / m["median_s"],
               ms_per_step=1e3 * m["median_s"] / steps[name])
    if fwd_flops:
      flops = fwd_flops * guided * args.num_samples * steps[name]
      rec.update(gflop_per_batch=flops / 1e9, tflops=flops / m["median_s"] / 1e12,
                 peak_fraction=flops / m["median_s"] / 1e9 / peak)
    out[name] = rec
    emit(**rec)
  emit(bench="sample_summary", ddpm_steps=args.ddpm_steps, ddim_steps=args.ddim_steps,
       ddpm_median_s=out["ddpm"]["median_s"], ddim_median_s=out["ddim"]["median_s"],
       ddpm_samples_per_s=out["ddpm"]["samples_per_s"],
       ddim_samples_per_s=out["ddim"]["samples_per_s"],
       speedup_ddim_over_ddpm=out["ddpm"]["median_s"] / out["ddim"]["median_s"],
       paired_speedup=1.0 / paired_ratio(times["ddim"], times["ddpm"]),
       step_ratio=args.ddpm_steps / args.ddim_steps)


def bench_train(args, torch, device: str, genjax_step: GenjaxStep,
                torch_step, step_flops: float | None, peak: float) -> None:
  contenders = {"genjax": genjax_step}
  if torch_step is not None:
    contenders["torch_eager"] = torch_step
    if device == "cpu" and torch_step.threads > 1:  # one thread cannot lose time to OpenMP
      contenders["torch_eager_1thread"] = TorchStep(torch, genjax_step, "cpu", threads=1)
  times = interleave(contenders, args.rounds, args.block, warmup=2)
  recs = {}
  for name, blocks in times.items():
    m = medians(blocks)
    rec = dict(bench="train_step", impl=name, batch=args.batch, median_ms=1e3 * m["median_s"],
               p10_ms=1e3 * m["p10_s"], p90_ms=1e3 * m["p90_s"],
               cpu_median_ms=1e3 * m["cpu_median_s"], steps=m["calls"],
               steps_per_s=1.0 / m["median_s"])
    if name == "genjax":
      rec["compile_s"] = genjax_step.compile_s
    if step_flops:
      rec.update(tflops=step_flops / m["median_s"] / 1e12,
                 peak_fraction=step_flops / m["median_s"] / 1e9 / peak)
    if "torch_eager" in times and name != "torch_eager":
      rec["ratio_to_torch_eager"] = m["median_s"] / medians(times["torch_eager"])["median_s"]
      rec["paired_ratio"] = paired_ratio(blocks, times["torch_eager"])
    recs[name] = rec
    emit(**rec)
  ours, one = recs["genjax"], recs.get("torch_eager_1thread")
  emit(bench="train_summary", genjax_median_ms=ours["median_ms"],
       torch_median_ms=recs["torch_eager"]["median_ms"] if "torch_eager" in recs else None,
       ratio_to_torch_eager=ours.get("ratio_to_torch_eager"), paired_ratio=ours.get("paired_ratio"),
       ratio_to_torch_eager_1thread=one and ours["median_ms"] / one["median_ms"],
       cpu_ratio_to_torch_eager_1thread=one and ours["cpu_median_ms"] / one["cpu_median_ms"])


def set_precision(torch, precision: str) -> None:
  """Float32 matmuls and convolutions on a GPU: 'tf32' (JAX's default there, left as users
  get it; PyTorch set to match, as its matmuls default to full float32) or 'float32' (full
  precision in both)."""
  if precision == "float32":
    jax.config.update("jax_default_matmul_precision", "float32")
  if torch is None:
    return
  mode = "tf32" if precision == "tf32" else "ieee"
  if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # torch >= 2.9
    torch.backends.cuda.matmul.fp32_precision = mode
    torch.backends.cudnn.conv.fp32_precision = mode
  else:
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = mode == "tf32"


def _fail(message: str) -> None:
  print(f"diffusion.py: {message}", file=sys.stderr)
  sys.exit(2)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--device", choices=("cpu", "gpu", "auto"), default="cpu",
                      help="cpu: JAX and PyTorch on the CPU; gpu: JAX's GPU backend and CUDA "
                      "(both required); auto: gpu when JAX has one")
  parser.add_argument("--rounds", type=int, default=10, help="train-step rounds")
  parser.add_argument("--block", type=int, default=5, help="train steps per block")
  parser.add_argument("--batch", type=int, default=64, help="train batch (the config's 64)")
  parser.add_argument("--sample_rounds", type=int, default=None,
                      help="sampling rounds, one batch per sampler each (default: --rounds)")
  parser.add_argument("--num_samples", type=int, default=64, help="samples per batch")
  parser.add_argument("--ddpm_steps", type=int, default=1000)
  parser.add_argument("--ddim_steps", type=int, default=50)
  parser.add_argument("--torch_threads", type=int, default=0,
                      help="PyTorch CPU threads (0: the cores this process may use, as XLA); "
                      "with more than one, a 1-thread PyTorch contender runs too")
  parser.add_argument("--precision", choices=("tf32", "float32"), default="tf32",
                      help="GPU float32 matmul/conv mode for both frameworks")
  parser.add_argument("--parts", default="sample,train", help="comma-separated: sample,train")
  args = parser.parse_args()
  args.sample_rounds = args.sample_rounds or args.rounds
  parts = set(args.parts.split(","))

  if args.device == "cpu":  # before any backend starts: a CUDA jaxlib would take the GPU
    jax.config.update("jax_platforms", "cpu")
  on_gpu = jax.default_backend() == "gpu"
  if args.device == "gpu" and not on_gpu:
    _fail(f"--device gpu, but JAX's default backend is '{jax.default_backend()}'; install a "
          "CUDA jaxlib or use --device cpu")
  try:
    import torch
  except ImportError:
    torch = None
  device = "cuda" if on_gpu else "cpu"
  if on_gpu and (torch is None or not torch.cuda.is_available()):
    _fail("JAX runs on the GPU but PyTorch has no CUDA device; install a CUDA build of torch "
          "or use --device cpu")
  if on_gpu:
    set_precision(torch, args.precision)
  cpus = devices.usable_cores()
  env = dict(bench="env", jax=jax.__version__, backend=jax.default_backend(),
             jax_device=str(jax.devices()[0].device_kind), cpus=cpus,
             precision=args.precision if on_gpu else "float32 (CPU)",
             xla_flags=os.environ.get("XLA_FLAGS", ""),
             glibc_tunables=os.environ.get("GLIBC_TUNABLES", ""), load_avg_start=os.getloadavg(),
             untrained_params=True)
  if torch is not None:
    if device == "cuda":
      torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick, as XLA autotunes
      env["torch_device_name"] = torch.cuda.get_device_name()
    else:
      torch.set_num_threads(args.torch_threads or cpus)
    env.update(torch=torch.__version__, torch_device=device, torch_threads=torch.get_num_threads())
  else:
    env["torch"] = "not installed: pip install -e .[bench]"

  genjax_step = GenjaxStep(args.batch, compile_step="train" in parts)
  n_params = sum(int(np.size(p)) for p in jax.tree.leaves(genjax_step.params))
  env.update(genjax_params=n_params, train_batch=args.batch, num_samples=args.num_samples)
  torch_step, fwd_flops, step_flops = None, None, None
  if torch is not None:
    torch_step = TorchStep(torch, genjax_step, device, threads=args.torch_threads or cpus)
    torch_params = sum(p.numel() for p in torch_step.model.parameters())
    env["torch_params"] = torch_params
    assert torch_params == n_params, f"parameter counts: torch {torch_params}, genjax {n_params}"
    env["max_rel_output_diff"] = check_same_function(torch, genjax_step.family,
                                                     genjax_step.params, device)
    # TF32 on a GPU rounds products to 10 mantissa bits; on a CPU both are float32.
    assert env["max_rel_output_diff"] < (2e-2 if on_gpu else 1e-4), env["max_rel_output_diff"]
    fwd_flops, step_flops = count_flops(torch, torch_step)
    env.update(fwd_mflop_per_example=fwd_flops / 1e6, train_step_gflop=step_flops / 1e9)
  emit(**env)
  peak = matmul_peak(on_gpu)
  emit(bench="matmul_peak", n=8192 if on_gpu else 2048, peak_gflops=peak)

  if "sample" in parts:
    bench_sampling(args, fwd_flops, peak)
  if "train" in parts:
    bench_train(args, torch, device, genjax_step, torch_step, step_flops, peak)
  emit(bench="end", load_avg_end=os.getloadavg())


if __name__ == "__main__":
  main()
