"""Every GPU figure in one bounded run: matmul peaks, the sprites beta-VAE step, populations,
the diffusion U-Net step, and a wall-time-budgeted beta study through the real runner.

  python benchmarks/gpu_all.py --out $OUT              # on a GPU: ~9 min in all
  python benchmarks/gpu_all.py --smoke --out /tmp/o    # CPU check of every code path

Each part runs in its own process under its own time limit (a hung or failed part costs
only itself), prints JSON lines, and the driver appends every record, tagged with the
device, library versions and measured matmul peaks, to OUT/gpu_figures.jsonl; everything
else the parts print goes to OUT/gpu_all.log. Parts, in order: env (versions, peaks), vae
(genjax float32 at the default precision, TF32 (`--with_highest` adds full float32), and
with train.precision=bfloat16; PyTorch eager TF32 and bf16 autocast), diffusion (U-Net step
vs PyTorch eager and torch.compile), population (vmap vs loop, 8 members), vae_compile
(genjax, PyTorch eager, torch.compile), beta (beta
in {1,2,4,6,8,16} trained as one vectorised population for a fixed time, then one
.tar.gz per member in OUT).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

# Seconds each part may take on a GPU (smoke: on this CPU). The beta study runs last and
# takes what is left of --total_s (default 520 s), 150 s of training at most.
# The first run (2026-12-04) stopped vae at 75 s and diffusion at 55 s before their figures:
# compiling 5 contenders per batch plus PyTorch's warm-ups takes longer on the GPU than the
# CPU smoke run suggested, so the parts that issue 18 still lacks come first, with room.
BUDGETS = {"env": 30, "vae": 170, "diffusion": 130, "population": 70, "vae_compile": 60,
           "beta": 0}
SMOKE_BUDGETS = {"env": 60, "vae": 200, "vae_compile": 240, "population": 150,
                 "diffusion": 200, "beta": 0}
TOTAL_S, SMOKE_TOTAL_S = 520.0, 1000.0
BETA_OVERHEAD_S = 50.0  # timing compile, runner start, final checkpoint and packing
# NVIDIA's dense (no sparsity) peaks, TFLOP/s: SXM H100 and H200 share the same compute.
NOMINAL_TFLOPS = {"H200": {"float32": 66.9, "tf32": 494.7, "bfloat16": 989.4},
                  "H100": {"float32": 66.9, "tf32": 494.7, "bfloat16": 989.4}}
BETAS = (1.0, 2.0, 4.0, 6.0, 8.0, 16.0)
LOG_CAP_BYTES = 8 << 20


def emit(**record) -> None:
  print(json.dumps(record, default=str), flush=True)


def _median_ms(blocks) -> float:
  import numpy as np  # pylint: disable=g-import-not-at-top
  return 1e3 * float(np.median([w for b in blocks for w, _ in b]))


# ======================================================================================
# env: device, versions, matmul peaks (8192^3 on a GPU)
# ======================================================================================

def part_env(args) -> None:
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  rec = dict(bench="env", backend=jax.default_backend(), device=jax.devices()[0].device_kind,
             device_count=jax.device_count(), jax=jax.__version__)
  for name in ("jaxlib", "flax", "optax", "orbax.checkpoint", "torch", "grain", "numpy"):
    try:
      rec[name] = __import__(name, fromlist=["_"]).__version__
    except Exception as e:  # pylint: disable=broad-except
      rec[name] = f"unavailable: {type(e).__name__}: {str(e)[:120]}"
  for name in ("ml_collections", "tensorboardX", "tensorflow_datasets"):
    try:
      __import__(name)
      rec[f"import_{name}"] = "ok"
    except Exception as e:  # pylint: disable=broad-except
      rec[f"import_{name}"] = f"{type(e).__name__}: {str(e)[:160]}"
  try:
    rec["xla_platform_version"] = jax.devices()[0].client.platform_version
  except Exception:  # pylint: disable=broad-except
    pass
  try:
    import torch  # pylint: disable=g-import-not-at-top
    rec.update(torch_cuda=torch.version.cuda, torch_cudnn=torch.backends.cudnn.version(),
               torch_cuda_available=torch.cuda.is_available())
  except Exception:  # pylint: disable=broad-except
    pass
  try:
    rec["nvidia_smi"] = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm",
         "--format=csv,noheader"], capture_output=True, text=True, timeout=20).stdout.strip()
  except Exception:  # pylint: disable=broad-except
    rec["nvidia_smi"] = "unavailable"
  n = 8192 if jax.default_backend() == "gpu" else (512 if args.smoke else 2048)
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  peaks = {}
  for name, dtype, precision in (("tf32_default", jnp.float32, None),
                                 ("float32_highest", jnp.float32, "highest"),
                                 ("bfloat16", jnp.bfloat16, None)):
    x = a.astype(dtype)
    dot = jax.jit(lambda u, v, p=precision: jnp.dot(u, v, precision=p))
    dot(x, x).block_until_ready()
    best = float("inf")
    for _ in range(5 if args.smoke else 10):
      t0 = time.perf_counter()
      dot(x, x).block_until_ready()
      best = min(best, time.perf_counter() - t0)
    peaks[name] = 2 * n**3 / best / 1e12
  rec.update(matmul_n=n, peak_tflops=peaks,
             nominal_tflops=next((v for k, v in NOMINAL_TFLOPS.items() if k in rec["device"]),
                                 None),
             nominal_source="NVIDIA H100/H200 SXM datasheet, dense (without sparsity)")
  emit(**rec)


# ======================================================================================
# vae, vae_compile: the sprites beta-VAE train step (benchmarks/train_step.py's contenders)
# ======================================================================================

def _sprites_batch(batch: int):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
  from genjax.data import sprites  # pylint: disable=g-import-not-at-top
  source = sprites.load(gconfig.load_config(os.path.join(ROOT, "configs/vae.py:sprites")).data,
                        "train")
  return source.get_batch(np.arange(batch) % len(source))["x"].astype(np.float32)


class GenjaxVae:
  """train_step.GenjaxStep at a matmul precision, or with train.precision='bfloat16' (the
  config switch users set: bfloat16 activations and matmuls, float32 params and optimiser
  state, float32 losses)."""

  def __init__(self, x_BHWC, mode: str):
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
    from genjax.data import sprites  # pylint: disable=g-import-not-at-top
    from genjax.models import build_family  # pylint: disable=g-import-not-at-top
    import train_step as ts  # pylint: disable=g-import-not-at-top
    overrides = {"optim.learning_rate": str(ts.LR)}
    if mode == "bfloat16":
      overrides["train.precision"] = "bfloat16"
    config = gconfig.load_config(os.path.join(ROOT, "configs/vae.py:sprites"), overrides)
    family = build_family(config, sprites.load(config.data, "train").info)
    self.batch, self.hp, self.rng = {"x": jnp.asarray(x_BHWC)}, {"beta": jnp.float32(ts.BETA)}, \
        jax.random.key(0)
    self.state = family.init(jax.random.key(1), self.batch, self.hp)
    fn = family.train_step
    t0 = time.perf_counter()
    with jax.default_matmul_precision("highest" if mode == "float32_highest" else None):
      self.step = jax.jit(fn, donate_argnums=0).lower(self.state, self.batch, self.rng,
                                                      self.hp).compile()
    self.compile_s = time.perf_counter() - t0

  def run(self, n: int):
    import train_step as ts  # pylint: disable=g-import-not-at-top
    return ts.CompiledStepTimer.run(self, n)

  def _step(self):
    import jax  # pylint: disable=g-import-not-at-top
    self.state, metrics = self.step(self.state, self.batch, self.rng, self.hp)
    jax.block_until_ready((self.state, metrics))


def _torch_tf32(torch) -> None:
  """PyTorch float32 matmuls and convolutions in TF32, as JAX's default on the GPU."""
  import diffusion  # pylint: disable=g-import-not-at-top
  diffusion.set_precision(torch, "tf32")
  torch.backends.cudnn.benchmark = True


def _torch_vae_step(torch, x_BHWC, compiled: bool, autocast_bf16: bool, device: str):
  import train_step as ts  # pylint: disable=g-import-not-at-top
  step = ts.TorchStep(torch, x_BHWC, compiled=compiled, threads=torch.get_num_threads(),
                      device=device)
  if autocast_bf16:
    plain = step._step  # pylint: disable=protected-access
    def autocast_step():
      with torch.autocast(device_type=device, dtype=torch.bfloat16):
        plain()
    step._step = autocast_step  # pylint: disable=protected-access
  return step


def _vae_part(args, with_compile: bool) -> None:
  import jax  # pylint: disable=g-import-not-at-top
  import train_step as ts  # pylint: disable=g-import-not-at-top
  on_gpu = jax.default_backend() == "gpu"
  try:
    import torch  # pylint: disable=g-import-not-at-top
    device = "cuda" if on_gpu and torch.cuda.is_available() else "cpu"
    if device == "cuda":
      _torch_tf32(torch)
    else:
      torch.set_num_threads(2)
  except ImportError:
    torch, device = None, None
  part = "vae_compile" if with_compile else "vae"
  batches = (8, 16) if args.smoke else (64, 1024, 256)
  rounds, block = (2, 2) if args.smoke else (8, 10)
  for batch in batches:
    try:
      x = _sprites_batch(batch)
      flops = ts.step_flops(64, 1, 32, 256, 10, batch)
      makers = {"genjax_tf32_default": lambda: GenjaxVae(x, "tf32_default")}
      if not with_compile:  # float32 as users run it is TF32; `highest` costs a compile
        if args.with_highest:
          makers["genjax_float32_highest"] = lambda: GenjaxVae(x, "float32_highest")
        makers["genjax_bfloat16"] = lambda: GenjaxVae(x, "bfloat16")
      if torch is not None:
        makers["torch_eager_tf32"] = lambda: _torch_vae_step(torch, x, False, False, device)
        if with_compile:
          makers["torch_compile_tf32"] = lambda: _torch_vae_step(torch, x, True, False, device)
        else:
          makers["torch_eager_bf16_autocast"] = lambda: _torch_vae_step(torch, x, False, True,
                                                                        device)
      contenders = {}
      for name, make in makers.items():
        try:  # one contender failing to build leaves the others' figures
          contenders[name] = make()
          contenders[name].run(1)
        except Exception as e:  # pylint: disable=broad-except
          emit(bench="error", failed_part=part, batch=batch, impl=name,
               error=f"{type(e).__name__}: {str(e)[:400]}")
          contenders.pop(name, None)
      times = ts.interleave(contenders, rounds, block)
      ref = times.get("torch_eager_tf32")
      for name, blocks in times.items():
        med = _median_ms(blocks)
        precision = ("bfloat16" if "bf16" in name or "bfloat16" in name
                     else "float32" if "highest" in name
                     else "tf32")
        emit(bench="vae_step" if not with_compile else "vae_step_compile", impl=name,
             batch=batch, median_ms=med, steps=sum(len(b) for b in blocks),
             step_gflop=flops / 1e9, achieved_tflops=flops / med / 1e9, precision=precision,
             compile_s=getattr(contenders[name], "compile_s", None),
             ratio_to_torch_eager_tf32=None if ref is None else med / _median_ms(ref))
    except Exception as e:  # pylint: disable=broad-except  # the next batch may still work
      emit(bench="error", failed_part=part, batch=batch,
           error=f"{type(e).__name__}: {str(e)[:400]}")


def part_vae(args) -> None:
  _vae_part(args, with_compile=False)


def part_vae_compile(args) -> None:
  _vae_part(args, with_compile=True)


# ======================================================================================
# population: benchmarks/population.py, 8 members, vmap against loop
# ======================================================================================

def part_population(args) -> None:
  import population as bench  # pylint: disable=g-import-not-at-top  # benchmarks/population.py
  cases = ("vae_toy2d",) if args.smoke else (
      "vae_toy2d", "vae_sprites32", "vae_sprites64", "gan_toy2d")
  for case in cases:
    try:
      bench.bench_case(case, 2 if args.smoke else 8, 2 if args.smoke else 10,
                       1 if "sprites" in case else (2 if args.smoke else 20))
    except Exception as e:  # pylint: disable=broad-except
      emit(bench="error", failed_part="population", case=case, error=f"{type(e).__name__}: {str(e)[:400]}")


# ======================================================================================
# diffusion: the U-Net step (benchmarks/diffusion.py) against PyTorch eager and compile
# ======================================================================================

def part_diffusion(args) -> None:
  import jax  # pylint: disable=g-import-not-at-top
  import diffusion as bench  # pylint: disable=g-import-not-at-top
  import train_step as ts  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  on_gpu = jax.default_backend() == "gpu"
  device = "cuda" if on_gpu else "cpu"
  if on_gpu:
    _torch_tf32(torch)
  else:
    torch.set_num_threads(2)
  rounds, block = (2, 2) if args.smoke else (8, 10)
  for batch in ((8,) if args.smoke else (64, 512)):
    try:
      ours = bench.GenjaxStep(batch)
      eager = bench.TorchStep(torch, ours, device, threads=torch.get_num_threads())
      diff = bench.check_same_function(torch, ours.family, ours.params, device)
      _, flops = bench.count_flops(torch, eager)
      contenders = {"genjax_tf32_default": ours, "torch_eager_tf32": eager}

      def report(times, only=None):
        ref = _median_ms(times["torch_eager_tf32"])
        for name, blocks in times.items():
          if only and name != only:
            continue
          med = _median_ms(blocks)
          emit(bench="diffusion_step", impl=name, batch=batch, median_ms=med,
               steps=sum(len(b) for b in blocks), step_gflop=flops / 1e9,
               achieved_tflops=flops / med / 1e9, precision="tf32",
               compile_s=getattr(contenders[name], "compile_s", None),
               ratio_to_torch_eager_tf32=med / ref, max_rel_output_diff=diff)

      # genjax and eager first: torch.compile's cold compile may use up the part's time.
      report(ts.interleave(contenders, rounds, block, warmup=2))
      compiled = bench.TorchStep(torch, ours, device, threads=torch.get_num_threads())
      compiled.model = torch.compile(compiled.model)
      t0 = time.perf_counter()
      compiled.run(1)
      compiled.compile_s = time.perf_counter() - t0
      contenders["torch_compile_tf32"] = compiled
      report(ts.interleave(contenders, rounds, block, warmup=2), only="torch_compile_tf32")
    except Exception as e:  # pylint: disable=broad-except
      emit(bench="error", failed_part="diffusion", batch=batch, error=f"{type(e).__name__}: {str(e)[:400]}")


# ======================================================================================
# beta: experiments/beta_vae_dsprites (disentanglement_lib's nets and optimiser, 64x64), one
# population, for a fixed training time
# ======================================================================================

def _beta_overrides(num_steps: int, smoke: bool) -> dict:
  log_every = max(1, min(500, num_steps // 10))
  overrides = {"optim.learning_rate": 1e-4, "model.latent_dim": 10, "data.batch_size": 64,
               "train.num_steps": num_steps, "train.log_every": log_every,
               "train.checkpoint_every": num_steps, "train.keep_checkpoints": 1,
               "train.eval_every": 0, "train.figure_every": 0}
  if smoke:
    overrides.update({"data.batch_size": 8})  # the disentanglement_lib nets are 64x64 only
  return overrides


def _time_population(config_spec: str, overrides: dict, calls: int) -> dict:
  """Seconds per vmapped population step and per batch drawn, with the runner's pieces."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
  from genjax.data import pipeline  # pylint: disable=g-import-not-at-top
  from genjax.train import population, runner, session  # pylint: disable=g-import-not-at-top
  configs = [gconfig.load_config(config_spec, dict(overrides, **{"hparams.beta": b, "seed": 0}))
             for b in BETAS]
  lead = session.open_session(configs[0], "/tmp/genjax_gpu_beta_timing")
  sessions = [lead] + [lead.for_member(c, "/tmp/unused") for c in configs[1:]]
  stepper = population.VmapStepper(runner.make_multistep(lead.family.train_step), lead.mesh,
                                   len(BETAS))
  rngs, hps = stepper.inputs([s.rng(session.TRAIN_STREAM) for s in sessions],
                             [s.hp for s in sessions])
  packed = stepper.pack([(s.init_state(), s.init_acc()) for s in sessions])
  stream = pipeline.TrainBatches(lead.train, configs[0].data.batch_size, 0)
  batch = stream.next_stacked(1)
  alive = [True] * len(BETAS)
  t0 = time.perf_counter()
  packed = jax.block_until_ready(stepper(packed, [batch] * len(BETAS), rngs, hps, alive))
  compile_s = time.perf_counter() - t0
  times = []
  for _ in range(calls):
    t0 = time.perf_counter()
    packed = jax.block_until_ready(stepper(packed, [batch] * len(BETAS), rngs, hps, alive))
    times.append(time.perf_counter() - t0)
  t0 = time.perf_counter()
  for _ in range(calls):
    stream.next_stacked(1)
  data_s = (time.perf_counter() - t0) / calls
  stream.close()
  return dict(step_s=float(np.median(times)), data_s=data_s, compile_s=compile_s)


def part_beta(args) -> None:
  from genjax.sweeps import launch, spec  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  config_spec = os.path.join(ROOT, "experiments/beta_vae_dsprites/config.py:full")
  start = time.perf_counter()
  timing = _time_population(config_spec, _beta_overrides(10, args.smoke), 3 if args.smoke else 20)
  # The runner's loop overlaps drawing the next batch with the device's step; its logging
  # and Python overhead are covered by the 15 % margin.
  per_step = 1.15 * max(timing["step_s"], timing["data_s"])
  num_steps = max(10, int(args.beta_train_s / per_step) // 10 * 10)
  emit(bench="beta_plan", members=len(BETAS), train_budget_s=args.beta_train_s,
       timing_s=time.perf_counter() - start, planned_steps=num_steps,
       population_step_ms=1e3 * timing["step_s"], batch_draw_ms=1e3 * timing["data_s"],
       timing_compile_s=timing["compile_s"])
  root = "/tmp/genjax_gpu_beta"
  if os.path.isdir(root):
    import shutil  # pylint: disable=g-import-not-at-top
    shutil.rmtree(root)
  members = tuple(spec.Member(spec.member_name(o), o)
                  for o in ({"hparams.beta": b, "seed": 0} for b in BETAS))
  sweep = spec.Sweep(path="benchmarks/gpu_all.py", config=config_spec, members=members,
                     listed=members)
  # Past the part's deadline less time to save and pack, SIGTERM makes the runner save a
  # checkpoint at the current step and stop (its members are then 'stopped', not 'done').
  # The runner handles SIGTERM while it trains; outside that window (its last save, closing)
  # the guard's SIGTERM must not kill this process before the members are packed.
  signal.signal(signal.SIGTERM, lambda *_: None)
  guard = threading.Timer(max(5.0, args.deadline - time.time() - args.pack_s),
                          lambda: os.kill(os.getpid(), signal.SIGTERM))
  guard.daemon = True
  guard.start()
  t0 = time.perf_counter()
  outcomes = launch.launch(sweep, root, "vectorized", _beta_overrides(num_steps, args.smoke),
                           population_mode="vmap")
  guard.cancel()
  train_s = time.perf_counter() - t0
  for member, outcome in zip(members, outcomes):
    workdir = os.path.join(root, member.name)
    rec = dict(bench="beta_member", member=member.name, beta=member.overrides["hparams.beta"],
               status=outcome.status, reason=outcome.reason, planned_steps=num_steps,
               launch_wall_s=train_s)
    try:
      rec.update(_last_train_metrics(workdir))
      rec.update(_pack(workdir, member.name, args.out))
    except Exception as e:  # pylint: disable=broad-except
      rec["pack_error"] = f"{type(e).__name__}: {str(e)[:300]}"
    emit(**rec)


def _last_train_metrics(workdir: str) -> dict:
  last = {}
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    for line in f:
      record = json.loads(line)
      if record.get("split") == "train":
        last = record
  return {f"last_{k}": v for k, v in last.items() if k != "split"}


def _pack(workdir: str, name: str, out: str) -> dict:
  """config.json, metrics.jsonl, status/population records and the latest checkpoint of
  one run directory -> OUT/beta_vae_<beta>_seed<seed>.tar.gz (a plain file name)."""
  steps = sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit())
  plain = name.replace("=", "").replace(".", "p")
  path = os.path.join(out, f"beta_vae_{plain}.tar.gz")
  with tarfile.open(path, "w:gz") as tar:
    for item in ("config.json", "metrics.jsonl", "status.json", "population.json"):
      if os.path.exists(os.path.join(workdir, item)):
        tar.add(os.path.join(workdir, item), arcname=os.path.join(name, item))
    tar.add(os.path.join(workdir, "checkpoints", str(steps[-1])),
            arcname=os.path.join(name, "checkpoints", str(steps[-1])))
  size = os.path.getsize(path)
  return dict(tar=os.path.basename(path), tar_mib=size / 2**20, checkpoint_step=steps[-1],
              tar_under_16mib=size < 16 * 2**20)


# ======================================================================================
# The driver: each part in its own process, with its own time limit
# ======================================================================================

PARTS = {"env": part_env, "vae": part_vae, "diffusion": part_diffusion,
         "population": part_population, "vae_compile": part_vae_compile, "beta": part_beta}


class Log:
  """OUT/gpu_all.log, capped so that it comes back with the figures."""

  def __init__(self, path: str):
    self._f, self._size, self._lock = open(path, "a"), 0, threading.Lock()

  def write(self, text: str) -> None:
    with self._lock:
      if self._size < LOG_CAP_BYTES:
        self._f.write(text if text.endswith("\n") else text + "\n")
        self._f.flush()
        self._size += len(text) + 1

  def close(self) -> None:
    self._f.close()


def run_part(name: str, limit_s: float, args, log: Log, context: dict, figures) -> dict | None:
  """Runs one part in a child process; returns its env record (part env) or None."""
  cmd = [sys.executable, os.path.abspath(__file__), "--part", name, "--out", args.out,
         "--deadline", str(time.time() + limit_s), "--beta_train_s", str(args.beta_train_s or 0),
         "--pack_s", str(args.pack_s)] + (["--smoke"] if args.smoke else []) + (
             ["--with_highest"] if args.with_highest else [])
  # JAX and PyTorch share the GPU in a part; a persistent compilation cache lets a later
  # part reuse an earlier part's compiled programs.
  env = dict(os.environ, XLA_PYTHON_CLIENT_MEM_FRACTION="0.45", PYTHONUNBUFFERED="1",
             JAX_COMPILATION_CACHE_DIR="/tmp/genjax_gpu_jax_cache",
             JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
  if args.smoke:
    env["JAX_PLATFORMS"] = "cpu"
  log.write(f"=== part {name}: limit {limit_s:.0f} s, {time.strftime('%H:%M:%S')}")
  t0 = time.perf_counter()
  child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, cwd=ROOT, start_new_session=True)
  found = {}

  def pump_out():
    for line in child.stdout:  # never stops reading: a full pipe would block the child
      try:
        record = json.loads(line)
        if not isinstance(record, dict):
          raise ValueError(line)
      except ValueError:
        log.write(f"[{name}] {line}")
        continue
      try:
        record = {"part": name, **record, **_mfu(record, context),
                  **({"context": context} if context else {})}
        if record.get("bench") == "env":
          found.update(record)
        line = json.dumps(record, default=str)
        print(line, flush=True)
        figures.write(line + "\n")
        figures.flush()
      except Exception as e:  # pylint: disable=broad-except
        log.write(f"[{name}] unrecorded ({type(e).__name__}: {e}): {line}")

  def pump_err():
    for line in child.stderr:
      log.write(f"[{name}:err] {line}")

  readers = [threading.Thread(target=pump_out, daemon=True),
             threading.Thread(target=pump_err, daemon=True)]
  for r in readers:
    r.start()
  status = "ok"
  try:
    child.wait(timeout=limit_s)
    if child.returncode:
      status = f"exit code {child.returncode}"
  except subprocess.TimeoutExpired:
    status = f"killed at its {limit_s:.0f} s limit"
    for sig in (signal.SIGTERM, signal.SIGKILL):
      try:
        os.killpg(child.pid, sig)
      except ProcessLookupError:
        break
      try:
        child.wait(timeout=10)
        break
      except subprocess.TimeoutExpired:
        continue
  for r in readers:
    r.join(timeout=5)
  line = json.dumps(dict(part=name, bench="part_done", status=status,
                         wall_s=round(time.perf_counter() - t0, 1)))
  print(line, flush=True)
  figures.write(line + "\n")
  figures.flush()
  log.write(f"=== part {name}: {status} after {time.perf_counter() - t0:.1f} s")
  return found or None


_PEAK_OF = {"tf32": "tf32_default", "float32": "float32_highest", "bfloat16": "bfloat16"}


def _mfu(record: dict, context: dict) -> dict:
  """Achieved TFLOP/s over the measured 8192^3 matmul peak of the same precision, and over
  the device's nominal dense peak (NOMINAL_TFLOPS) where it is known."""
  achieved, precision = record.get("achieved_tflops"), record.get("precision")
  if achieved is None or precision not in _PEAK_OF or not context:
    return {}
  out = {}
  measured = (context.get("peak_tflops") or {}).get(_PEAK_OF[precision])
  if measured:
    out["mfu_vs_measured_peak"] = achieved / measured
  nominal = (context.get("nominal_tflops") or {}).get(precision)
  if nominal:
    out["mfu_vs_nominal_peak"] = achieved / nominal
  out["mfu_basis"] = (f"measured jnp.dot {context.get('matmul_n')}^3 {_PEAK_OF[precision]}; "
                      f"nominal {precision} dense datasheet peak")
  return out


def _context(env_record: dict | None) -> dict:
  """What every figure carries: the device, library versions and measured peaks."""
  if not env_record:
    return {}
  keys = ("device", "backend", "jax", "jaxlib", "flax", "optax", "orbax.checkpoint", "torch",
          "torch_cuda", "xla_platform_version", "matmul_n", "peak_tflops", "nominal_tflops")
  return {k: env_record.get(k) for k in keys}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--out", default=os.environ.get("OUT", "/tmp/genjax_gpu_out"))
  parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU")
  parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated, in order")
  parser.add_argument("--beta_train_s", type=float, default=None,
                      help="training seconds of the beta study (default: what is left of "
                      "--total_s after the other parts, less %d s, at most 150)" % BETA_OVERHEAD_S)
  parser.add_argument("--pack_s", type=float, default=15.0,
                      help="seconds kept for the final checkpoint and packing")
  parser.add_argument("--total_s", type=float, default=None,
                      help="overall limit in seconds (default %d; %d with --smoke)"
                      % (TOTAL_S, SMOKE_TOTAL_S))
  parser.add_argument("--with_highest", action="store_true",
                      help="also time genjax's VAE step at full float32 matmul precision")
  parser.add_argument("--part", help=argparse.SUPPRESS)
  parser.add_argument("--deadline", type=float, default=0.0, help=argparse.SUPPRESS)
  args = parser.parse_args()
  os.makedirs(args.out, exist_ok=True)
  if args.part:  # a child: one part
    if args.smoke:
      os.environ["JAX_PLATFORMS"] = "cpu"
    PARTS[args.part](args)
    return
  budgets = SMOKE_BUDGETS if args.smoke else BUDGETS
  names = [n for n in args.parts.split(",") if n]
  unknown = [n for n in names if n not in PARTS]
  if unknown:
    print(f"gpu_all.py: error: unknown part(s) {unknown}; use some of {', '.join(PARTS)}",
          file=sys.stderr)
    sys.exit(2)
  fixed_train_s = args.beta_train_s
  end = time.time() + (args.total_s or (SMOKE_TOTAL_S if args.smoke else TOTAL_S))
  log = Log(os.path.join(args.out, "gpu_all.log"))
  context = {}
  with open(os.path.join(args.out, "gpu_figures.jsonl"), "a") as figures:
    for name in names:
      left = end - time.time()
      if left < 10:
        line = json.dumps(dict(part=name, bench="part_done", status="skipped: no time left"))
        print(line, flush=True)
        figures.write(line + "\n")
        continue
      limit = budgets[name]
      if name == "beta":  # the rest of the time
        args.beta_train_s = fixed_train_s or min(20.0 if args.smoke else 150.0,
                                                 max(10.0, left - BETA_OVERHEAD_S))
        limit = args.beta_train_s + BETA_OVERHEAD_S
      found = run_part(name, min(limit, left), args, log, context, figures)
      if name == "env" and found:
        context = _context(found)
  log.close()


if __name__ == "__main__":
  main()
