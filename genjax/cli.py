"""The `genjax` command: train, eval, sample, translate, report. A user error is one line, exit 2.

  genjax train  --config=configs/vae.py:sprites --workdir=runs/x [--config.hparams.beta=4 ...]
  genjax eval   --workdir=runs/x --evals=elbo,recon [--step=best] [--config.evals.NAME.KEY=v ...]
  genjax sample --workdir=runs/x --num=64 [--label=3] [--sampler=ddim --steps=50]
                [--sampler=ode --rtol=1e-5 --atol=1e-5]
  genjax translate --workdir=runs/p2p --input=images.npz
  genjax report --workdir=runs/x [--step=best]   (or --sweep=runs/study)
  genjax sweep  --sweep=experiments/study/sweep.py --workdir=runs/study \
                --launcher=local|vectorized|slurm [--config.train.num_steps=2000 ...]
"""
from __future__ import annotations

import os
import sys
import zipfile

from absl import app, flags, logging
import numpy as np

from genjax import compile_cache, interrupt
from genjax.errors import GenjaxError

FLAGS = flags.FLAGS
flags.DEFINE_string("config", None, "config file and variant, e.g. configs/vae.py:sprites")
flags.DEFINE_string("workdir", None, "the run directory")
flags.DEFINE_string("evals", None, "comma-separated evaluators for `eval` (default: config.evals)")
flags.DEFINE_integer("num", 64, "number of samples for `sample`")
flags.DEFINE_integer("seed", 0, "sampling seed for `sample`")
flags.DEFINE_integer("label", -1, "class to generate for conditional models (`sample`)")
flags.DEFINE_string("sampler", None, "diffusion sampler for `sample`: ddpm, ddim, ode "
                    "(adaptive), euler, heun or dpmpp2m")
flags.DEFINE_integer("steps", None, "diffusion sampling steps for `sample`")
flags.DEFINE_float("eta", None, "DDIM eta for `sample` (0 = deterministic)")
flags.DEFINE_string("step", None, "`eval`, `sample`, `report`: 'best' uses the step kept by "
                    "train.keep_best (default: the latest)")
flags.DEFINE_float("rtol", None, "`sample --sampler=ode`: the solver's relative tolerance")
flags.DEFINE_float("atol", None, "`sample --sampler=ode`: the solver's absolute tolerance")
flags.DEFINE_string("input", None, "images to translate: an .npz (array 'x' or the first one) or a "
                    "folder of PNG/JPEG files")
flags.DEFINE_string("direction", "AtoB", "translation direction for `translate`: AtoB or BtoA")
flags.DEFINE_string("sweep", None, "`sweep`: the sweep file; `report`: a sweep's root directory")
flags.DEFINE_string("members", None, "`sweep`: run only the members whose name matches this "
                    "regular expression (e.g. 'beta=4_')")
flags.DEFINE_string("launcher", "local", "`sweep`: local, vectorized or slurm")
flags.DEFINE_integer("parallel", 1, "`sweep --launcher=local`: members trained at once (processes)")
flags.DEFINE_string("population_mode", "auto", "`sweep --launcher=vectorized`: vmap, loop or auto "
                    "(time both on the first calls, keep the faster)")
flags.DEFINE_integer("population_lanes", 0, "`sweep --launcher=vectorized`: host threads that "
                     "step groups of members at once; 0: the CPU's cores on a one-device CPU "
                     "run, else 1")
flags.DEFINE_string("slurm_cluster", "slurm", "`sweep --launcher=slurm`: slurm, or local to run "
                    "the job array on this machine through submitit")
flags.DEFINE_string("slurm_partition", "", "`sweep --launcher=slurm`: the partition")
flags.DEFINE_integer("slurm_timeout_min", 240, "`sweep --launcher=slurm`: minutes per task "
                     "before SLURM stops it (it is requeued and resumes)")
flags.DEFINE_integer("slurm_gpus_per_task", 0, "`sweep --launcher=slurm`: GPUs per member")
flags.DEFINE_integer("slurm_array_parallelism", 64, "`sweep --launcher=slurm`: tasks at once")
flags.DEFINE_boolean("slurm_wait", True, "`sweep --launcher=slurm`: wait for the array and "
                     "summarise (--noslurm_wait submits and returns)")

_OVERRIDE_PREFIX = "--config."


def split_overrides(argv: list[str]) -> tuple[list[str], dict[str, str]]:
  """Separates `--config.a.b=v` (ours to parse) from the flags absl parses."""
  rest, overrides = [], {}
  args = iter(argv)
  for arg in args:
    if arg.startswith(_OVERRIDE_PREFIX):
      key, eq, value = arg[len(_OVERRIDE_PREFIX):].partition("=")
      if not eq:
        value = next(args, None)
        if value is None:
          raise GenjaxError(f"--config.{key} needs a value: --config.{key}=VALUE")
      overrides[key] = value
    else:
      rest.append(arg)
  return rest, overrides


def _require_flag(name: str) -> str:
  value = getattr(FLAGS, name)
  if not value:
    raise GenjaxError(f"--{name} is required for this command")
  return value


def cmd_train(overrides: dict[str, str]) -> None:
  from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
  config = gconfig.load_config(_require_flag("config"), overrides)
  from genjax.train import tracking  # pylint: disable=g-import-not-at-top
  tracking.check_available(config)  # before jax starts: a missing extra is refused at once
  from genjax.train import runner  # pylint: disable=g-import-not-at-top  # jax: after checks
  runner.train_and_evaluate(config, _require_flag("workdir"))
  import jax  # pylint: disable=g-import-not-at-top
  if jax.process_index() == 0:  # one line per run, not one per host
    print(f"genjax: done; artifacts in {FLAGS.workdir}", flush=True)


def cmd_eval(overrides: dict[str, str]) -> None:
  from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
  from genjax import evals as gevals  # pylint: disable=g-import-not-at-top
  workdir = _require_flag("workdir")
  saved = gconfig.read_saved(workdir)  # a bad config.json is refused before jax starts
  from genjax.train import session  # pylint: disable=g-import-not-at-top
  session.apply_use_overrides(saved, overrides)  # --config.evals.NAME.type=T declares NAME
  if FLAGS.evals is not None:
    names = [n.strip() for n in FLAGS.evals.split(",") if n.strip()]
    if not names:
      raise GenjaxError(f"--evals={FLAGS.evals!r} names no evaluator; pass e.g. "
                        "--evals=elbo,recon, or drop --evals to run config.evals")
  else:
    names = list(saved.evals)
    if not names:
      raise GenjaxError(f"the run in {workdir} configures no evaluators (config.evals is "
                        "empty); name some with --evals=NAME[,NAME...]")
  gevals.resolve(names, saved.evals)  # an unknown name is refused before loading the model
  run, ctx = session.load_trained(workdir, overrides=overrides, step=FLAGS.step)

  def show(name, numbers):
    shown = ", ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in numbers.items())
    print(f"{name} (step {ctx.step}): {shown}", flush=True)
  from genjax.train import judge, runner  # pylint: disable=g-import-not-at-top
  evals = judge.supply(gevals.resolve(names, run.config.evals), run.config.data.name,
                       int(ctx.info.x_shape[0]), runner.train_and_evaluate)
  gevals.run_evals(ctx, evals, on_result=show)


_SAMPLING_FLAGS = ("sampler", "steps", "eta", "rtol", "atol")


def cmd_sample(overrides: dict[str, str]) -> None:
  from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
  _no_overrides(overrides, "sample")
  if FLAGS.num <= 0:
    raise GenjaxError(f"--num={FLAGS.num} must be a positive number of samples")
  if FLAGS.label < -1:
    raise GenjaxError(f"--label={FLAGS.label} is not a class; classes are numbered from 0")
  workdir = _require_flag("workdir")
  family = gconfig.read_saved(workdir).model.family
  given = [f"--{n}" for n in _SAMPLING_FLAGS if getattr(FLAGS, n) is not None]
  if given and family != "diffusion":
    raise GenjaxError(f"{', '.join(given)} choose how a diffusion model samples; this run's "
                      f"model family '{family}' has one sampler: drop {', '.join(given)}")
  import jax  # pylint: disable=g-import-not-at-top
  from genjax.train import figures, session  # pylint: disable=g-import-not-at-top
  sampling = {f"model.{k}": str(v) for k, v in (
      ("sampler", FLAGS.sampler), ("sample_steps", FLAGS.steps), ("eta", FLAGS.eta),
      ("ode_rtol", FLAGS.rtol), ("ode_atol", FLAGS.atol))
              if v is not None}
  from genjax.core import family as contract  # pylint: disable=g-import-not-at-top
  run, ctx = session.load_trained(workdir, overrides=sampling, step=FLAGS.step)
  if not contract.has(ctx.family, contract.Sampler):
    raise GenjaxError(f"model family '{family}' has no sampler: `genjax sample` draws from "
                      "generative models (vae, autoencoder, gan, diffusion); evaluate this "
                      "run with genjax eval")
  cond = None
  if FLAGS.label >= 0:
    classes = contract.num_classes(ctx.family)
    if not classes:
      raise GenjaxError(f"--label needs a label-conditional model; this '{family}' was trained "
                        "without labels (model.conditional is off): drop --label")
    if FLAGS.label >= classes:
      raise GenjaxError(f"--label={FLAGS.label} is out of range: this model has {classes} "
                        f"classes, 0 to {classes - 1}")
    cond = np.full((FLAGS.num,), FLAGS.label, np.int32)
  name = sample_name(run.config, FLAGS.num, FLAGS.seed, FLAGS.label)
  if FLAGS.step == "best":  # beside the latest step's file, not over it
    name += "_best"
  rng = jax.random.key(FLAGS.seed)
  path = figures.write_samples(ctx, rng, FLAGS.num, name=f"sample_{name}", cond=cond)
  samples = np.asarray(ctx.jit("sample", static_argnums=(2,))(ctx.state, rng, FLAGS.num, ctx.hp, cond))
  npz = os.path.join(workdir, f"samples_{name}.npz")
  if jax.process_index() == 0:
    np.savez(npz, samples=samples, step=ctx.step, seed=FLAGS.seed, label=FLAGS.label)
  print(f"genjax: {FLAGS.num} samples from step {ctx.step} -> {path}, {npz}", flush=True)


def sample_name(config, num: int, seed: int, label: int) -> str:
  """'step-free' file stem of a `genjax sample` call: what was drawn and how, so two calls
  with other settings never overwrite each other (or the training figures)."""
  parts = [f"n{num}", f"seed{seed}"]
  if label >= 0:
    parts.append(f"label{label}")
  m = config.model
  if m.family == "diffusion":
    if m.sampler == "ode":
      from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
      rtol, atol = (float(gconfig.optional(config, f"model.ode_{k}")) for k in ("rtol", "atol"))
      parts.append(f"ode_rtol{rtol:g}_atol{atol:g}")
    else:
      parts.append(f"{m.sampler}{m.sample_steps}")
    if m.sampler == "ddim":
      parts.append(f"eta{float(m.eta):g}")
  return "_".join(parts)


def cmd_translate(overrides: dict[str, str]) -> None:
  from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
  _no_overrides(overrides, "translate")
  if FLAGS.direction not in ("AtoB", "BtoA"):
    raise GenjaxError(f"--direction={FLAGS.direction} is unknown; use AtoB or BtoA")
  x = read_images(_require_flag("input"))
  workdir = _require_flag("workdir")
  family = gconfig.read_saved(workdir).model.family
  from genjax.evals import translation  # pylint: disable=g-import-not-at-top
  from genjax.train import session  # pylint: disable=g-import-not-at-top
  from genjax.core import family as contract  # pylint: disable=g-import-not-at-top
  _, ctx = session.load_trained(workdir)
  if not contract.has(ctx.family, contract.Translator):
    raise GenjaxError(f"model family '{family}' does not translate images; `genjax translate` "
                      "needs a pix2pix or cyclegan run")
  want = tuple(ctx.info.x_shape if FLAGS.direction == "AtoB" else ctx.info.y_shape)
  if x.shape[1:] != want:
    raise GenjaxError(input_mismatch(x.shape[1:], want, FLAGS.direction))
  path = os.path.join(workdir, "figures", f"translate_{FLAGS.direction}.png")
  y_hat = translation.translate_and_save(ctx, x, path, direction=FLAGS.direction)
  out = os.path.join(workdir, f"translations_{FLAGS.direction}.npz")
  np.savez(out, x=x, y_hat=y_hat, step=ctx.step, direction=FLAGS.direction)
  print(f"genjax: translated {len(x)} images with step {ctx.step} -> {path}, {out}", flush=True)


def input_mismatch(have: tuple, want: tuple, direction: str) -> str:
  """What differs between the --input images and the model's: size, channels or both."""
  fixes = []
  if have[:-1] != want[:-1]:
    fixes.append(f"resize them to {want[0]}x{want[1]}" if len(want) == 3 else
                 f"give them shape {want}")
  if have[-1:] != want[-1:]:
    fixes.append(f"convert them from {have[-1]} to {want[-1]} channel(s)")
  return (f"--input images are {have}, but this model translates {want} ({direction}); "
          + " and ".join(fixes))


def read_images(path: str) -> np.ndarray:
  """[N, H, W, C] float32 in [0, 1] from an .npz file or a folder of image files."""
  if os.path.isdir(path):
    from PIL import Image, UnidentifiedImageError  # pylint: disable=g-import-not-at-top
    names = sorted(n for n in os.listdir(path) if n.lower().endswith((".png", ".jpg", ".jpeg")))
    if not names:
      raise GenjaxError(f"--input folder '{path}' holds no .png/.jpg images")
    try:
      images = [np.asarray(Image.open(os.path.join(path, n))) for n in names]
    except (UnidentifiedImageError, OSError) as e:
      raise GenjaxError(f"--input folder '{path}' holds an unreadable image ({e}); remove or "
                        "re-save it") from None
    if len({im.shape for im in images}) > 1:
      raise GenjaxError(f"--input folder '{path}' mixes image sizes; resize them to one size")
    x = np.stack(images)
  elif os.path.isfile(path):
    with open(path, "rb") as f:
      magic = f.read(6)
    if not magic.startswith((b"PK", b"\x93NUMPY")):
      raise GenjaxError(f"--input '{path}' is not an .npz archive (no zip header); pass an .npz "
                        "of images (array 'x') or a folder of PNG/JPEG files")
    try:
      loaded = np.load(path, allow_pickle=False)
      if isinstance(loaded, np.ndarray):  # an .npy: the images themselves
        x = loaded
      else:
        with loaded as archive:
          if not archive.files:
            raise GenjaxError(f"--input '{path}' holds no arrays")
          x = archive["x"] if "x" in archive.files else archive[archive.files[0]]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
      reason = " ".join(str(e).split())[:120]
      raise GenjaxError(f"--input '{path}' is not a readable .npz archive ({reason}); pass an "
                        ".npz of images (array 'x') or a folder of PNG/JPEG files") from None
  else:
    raise GenjaxError(f"--input '{path}' does not exist; pass an .npz file or a folder of images")
  if not np.issubdtype(x.dtype, np.number):
    raise GenjaxError(f"--input '{path}' holds {x.dtype} data, not image numbers")
  if x.ndim == 3:
    x = x[..., None]
  if x.ndim != 4:
    raise GenjaxError(f"--input arrays must be [N, H, W, C] images; got shape {x.shape}")
  return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def cmd_report(overrides: dict[str, str]) -> None:
  _no_overrides(overrides, "report")
  if FLAGS.sweep:
    from genjax.sweeps import report as sweep_report  # pylint: disable=g-import-not-at-top
    path = sweep_report.write_sweep_report(FLAGS.sweep)
  else:
    from genjax.evals import report  # pylint: disable=g-import-not-at-top
    workdir, best = _require_flag("workdir"), None
    if FLAGS.step not in (None, "latest"):
      from genjax.train import session  # pylint: disable=g-import-not-at-top  # jax: lazily
      if FLAGS.step != "best":
        raise GenjaxError(f"--step={FLAGS.step!r} is not a step choice; pass --step=best")
      best = session.best_checkpoint(workdir)
    path = report.write_report(workdir, best)
  print(f"genjax: report written to {path}", flush=True)


def cmd_sweep(overrides: dict[str, str]) -> None:
  """Runs every member of a sweep file; `--config.*` flags apply to all members."""
  from genjax.sweeps import launch, spec  # pylint: disable=g-import-not-at-top
  sweep = spec.load_sweep(_require_flag("sweep"), FLAGS.config, FLAGS.members)
  slurm = launch.SlurmOptions(
      cluster=FLAGS.slurm_cluster, partition=FLAGS.slurm_partition,
      timeout_min=FLAGS.slurm_timeout_min, gpus_per_task=FLAGS.slurm_gpus_per_task,
      array_parallelism=FLAGS.slurm_array_parallelism, wait=FLAGS.slurm_wait)
  outcomes = launch.launch(sweep, _require_flag("workdir"), FLAGS.launcher, overrides,
                           parallel=FLAGS.parallel, population_mode=FLAGS.population_mode,
                           population_lanes=FLAGS.population_lanes,
                           slurm=slurm)
  for line in launch.summary_lines(outcomes):
    print(line, flush=True)
  failed = sum(o.status == "failed" for o in outcomes)
  if failed:
    raise GenjaxError(f"{failed} of {len(outcomes)} sweep members failed (reasons above); fix "
                      "them and rerun the same command: finished members are skipped")


def _no_overrides(overrides, command):
  if overrides:
    raise GenjaxError(f"`genjax {command}` uses the run's saved config; drop the --config.* flags")


_RUN = {"train": cmd_train, "eval": cmd_eval, "sample": cmd_sample, "translate": cmd_translate,
        "report": cmd_report, "sweep": cmd_sweep}


def _parse(argv: list[str]) -> tuple[list[str], dict[str, str]]:
  """absl flag parsing, with its errors turned into our one-line form; keeps the overrides."""
  rest, overrides = split_overrides(argv)
  try:
    positional = FLAGS(rest)
  except flags.Error as e:
    _fail(f"{e}; see `genjax --helpfull`")
  return positional, overrides


def main(parsed: tuple[list[str], dict[str, str]]) -> None:
  argv, overrides = parsed
  if not FLAGS["verbosity"].present:  # library INFO chatter (Orbax) would bury the progress line
    logging.set_verbosity(logging.WARNING)
  command = argv[1] if len(argv) > 1 else ""
  if command not in _RUN:
    _fail(f"unknown command '{command}'; use one of: {', '.join(_RUN)}")
  if len(argv) > 2:
    _fail(f"unexpected argument(s) {argv[2:]}; flags are written --name=value")
  compile_cache.enable()
  try:
    _RUN[command](overrides)
  except GenjaxError as e:
    _fail(str(e))
  except OSError as e:  # a read-only or full filesystem, a path that vanished
    _fail(os_error_line(e))


def os_error_line(e: OSError) -> str:
  """An OSError as the problem (with the path) and the fix."""
  where = f" '{e.filename}'" if e.filename else ""
  return (f"cannot use{where}: {e.strerror or e}; check that the path exists and is writable "
          "(permissions, a read-only filesystem, free space)")


def _fail(message: str) -> None:
  print(f"genjax: error: {message}", file=sys.stderr, flush=True)
  sys.exit(2)


def run() -> None:
  """Console-script entry point."""
  interrupt.install()
  try:
    app.run(main, flags_parser=_parse)
  except GenjaxError as e:  # raised while parsing flags, before main
    _fail(str(e))
  except KeyboardInterrupt:  # in case one was raised before our handler was in place
    interrupt.exit_now()
  finally:
    interrupt.ignore_during_shutdown()
