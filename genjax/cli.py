"""The `genjax` command: train, eval, sample. Every user error is one line and exit code 2.

  genjax train  --config=configs/vae.py:sprites --workdir=runs/x [--config.hparams.beta=4 ...]
  genjax eval   --workdir=runs/x --evals=elbo,recon
  genjax sample --workdir=runs/x --num=64
"""
from __future__ import annotations

import os
import sys

from absl import app, flags, logging
import numpy as np

from genjax.errors import GenjaxError

FLAGS = flags.FLAGS
flags.DEFINE_string("config", None, "config file and variant, e.g. configs/vae.py:sprites")
flags.DEFINE_string("workdir", None, "the run directory")
flags.DEFINE_string("evals", None, "comma-separated evaluators for `eval` (default: config.evals)")
flags.DEFINE_integer("num", 64, "number of samples for `sample`")
flags.DEFINE_integer("seed", 0, "sampling seed for `sample`")
flags.DEFINE_integer("label", -1, "class to generate for conditional models (`sample`)")

COMMANDS = ("train", "eval", "sample")
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
  from genjax.train import runner  # pylint: disable=g-import-not-at-top  # jax: after checks
  runner.train_and_evaluate(config, _require_flag("workdir"))
  print(f"genjax: done; artifacts in {FLAGS.workdir}", flush=True)


def cmd_eval(overrides: dict[str, str]) -> None:
  from genjax import evals as gevals  # pylint: disable=g-import-not-at-top
  from genjax.train import session  # pylint: disable=g-import-not-at-top
  _no_overrides(overrides, "eval")
  run, ctx = session.load_trained(_require_flag("workdir"))
  names = FLAGS.evals.split(",") if FLAGS.evals else list(run.config.evals)
  results = gevals.run_evals(ctx, gevals.resolve([n.strip() for n in names if n.strip()],
                                                 run.config.evals))
  for name, numbers in results.items():
    shown = ", ".join(f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in numbers.items())
    print(f"{name} (step {ctx.step}): {shown}", flush=True)


def cmd_sample(overrides: dict[str, str]) -> None:
  import jax  # pylint: disable=g-import-not-at-top
  from genjax.train import figures, session  # pylint: disable=g-import-not-at-top
  _no_overrides(overrides, "sample")
  if FLAGS.num <= 0:
    raise GenjaxError(f"--num={FLAGS.num} must be a positive number of samples")
  run, ctx = session.load_trained(_require_flag("workdir"))
  ctx.require("sample", evaluator="sample")
  cond = None
  if FLAGS.label >= 0:
    if not run.test.info.num_classes:
      raise GenjaxError(f"--label needs a conditional model; '{run.config.model.family}' is not")
    cond = np.full((FLAGS.num,), FLAGS.label, np.int32)
  rng = jax.random.key(FLAGS.seed)
  path = figures.write_samples(ctx, rng, FLAGS.num, cond=cond)
  samples = np.asarray(ctx.jit("sample", static_argnums=(2,))(ctx.state, rng, FLAGS.num, ctx.hp, cond))
  npz = os.path.join(FLAGS.workdir, "samples.npz")
  if jax.process_index() == 0:
    np.savez(npz, samples=samples, step=ctx.step, seed=FLAGS.seed)
  print(f"genjax: {FLAGS.num} samples from step {ctx.step} -> {path}, {npz}", flush=True)


def _no_overrides(overrides, command):
  if overrides:
    raise GenjaxError(f"`genjax {command}` uses the run's saved config; drop the --config.* flags")


_RUN = {"train": cmd_train, "eval": cmd_eval, "sample": cmd_sample}


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
    _fail(f"unknown command '{command}'; use one of: {', '.join(COMMANDS)}")
  if len(argv) > 2:
    _fail(f"unexpected argument(s) {argv[2:]}; flags are written --name=value")
  try:
    _RUN[command](overrides)
  except GenjaxError as e:
    _fail(str(e))


def _fail(message: str) -> None:
  print(f"genjax: error: {message}", file=sys.stderr, flush=True)
  sys.exit(2)


def run() -> None:
  """Console-script entry point."""
  try:
    app.run(main, flags_parser=_parse)
  except GenjaxError as e:  # raised while parsing flags, before main
    _fail(str(e))
