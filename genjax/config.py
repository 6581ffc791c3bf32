"""Config loading, command-line overrides and validation: every bad value becomes one ConfigError.

A config is an `ml_collections.ConfigDict` with the fixed sections `seed, data, model,
hparams, optim, train, evals`, built by a config file's `get_config(arg)`. Overrides come
as `--config.a.b=value` pairs. We parse them ourselves rather than through
`ml_collections.config_flags`, whose errors for a mistyped key (a bare KeyError traceback)
or a wrong type (a FATAL flags error) are not one actionable line.
"""
from __future__ import annotations

import ast
import difflib
import hashlib
import importlib.util
import json
import os
from typing import Any, Callable

import ml_collections

from genjax.errors import ConfigError

SECTIONS = ("seed", "data", "model", "hparams", "optim", "train", "evals")
# Keys a config may lack, with the value an absent key means. They live only in the configs
# that set them (so adding one here changes no other config's fingerprint or checkpoints);
# `--config.KEY=v` adds one to a config without it. Read them with `optional(config, KEY)`.
OPTIONAL = {
    "data.resample": "none",  # 'latent_density' or 'latent_knn': debias (train/resample.py)
    "data.resample_every": 500,  # steps between two re-estimates of the sampling weights
    "data.resample_alpha": 1.0,  # smoothing added to each density (latent_knn: x the median)
    "data.resample_bins": 10,  # histogram bins per latent dimension
    "data.resample_k": 5,  # latent_knn: the neighbour whose distance measures the density
    "data.resample_active": 0.3,  # latent_knn: dims with std above this fraction of the largest
    "data.resample_max_ratio": 10.0,  # latent_knn: weights clipped to [median / R, median * R]
    "data.rare_class": -1,  # a class to make rare in the training split (-1 = none)
    "data.rare_fraction": 0.02,  # the share of that class's training examples kept
    # a dataset read from its authors' file or a folder (dsprites, shapes3d, mpi3d, folder)
    "data.path": "",
    # where compressed files are extracted once for reading by offset ('' = ~/.cache/genjax)
    "data.cache_dir": "",
    "data.factor_sizes": (),  # mpi3d: the grid of a reduced file (() = the authors' sizes)
    "data.channels": 0,  # folder: 1 (grey) or 3 (RGB); 0 = what the files hold
    # pixel values are k / levels, k = 0..levels: diffusion's image grid (255 = 8-bit) and
    # the n of a 'binomial' decoder (digits: 16)
    "model.levels": 255,
    # gradient accumulation: k micro-batches of data.batch_size / k make one update of the
    # whole batch (memory of B / k; models/common.py value_and_grad says what differs)
    "train.grad_accum_steps": 1,
    # the dtype networks compute in: 'bfloat16' runs activations, matmuls and convolutions
    # in bfloat16 while params, optimiser state, losses and reductions stay float32
    # (models/common.py apply_net says which parts stay float32 and why)
    "train.precision": "float32",
    # an EMA of all params in state.ema, used by sampling, evaluation and figures (0 = the
    # raw params; absent = no EMA kept); traced, so a population may vary it
    "hparams.ema_decay": 0.0,
    # keep the step with the best 'EVAL/METRIC' of the evaluations during training beside
    # the newest train.keep_checkpoints ('' = off); `genjax eval|sample|report --step=best`
    "train.keep_best": "",
    "train.keep_best_mode": "min",  # 'min' (a loss, an NLL) or 'max' (an accuracy, a score)
    # diffusion's probability-flow ODE (models/diffusion_ode.py): continuous-time training,
    # the data end t_min, the adaptive solver's tolerances, dequantised image training
    "model.time": "discrete",
    "model.t_min": 1e-5,
    "model.ode_rtol": 1e-5,
    "model.ode_atol": 1e-5,
    "model.dequantize": False,
    # the fixed-step ODE samplers' grid of noise levels (models/diffusion_fast.py): spacing
    # 'karras' (rho = 7), 'logsnr', 'time_uniform' or 'time_quadratic'; the time of the last
    # level (0 = the first knot, t = 1 / T); dpmpp2m's last step in first order
    "model.fast_spacing": "karras",
    "model.fast_t_end": 0.0,
    "model.fast_lower_order_final": False,
    # experiment tracking with wandb (train/tracking.py; the optional extra genjax[wandb]):
    # a project turns it on ('' = off); a sweep's members are grouped by the sweep's name
    "train.wandb.project": "",
    "train.wandb.entity": "",  # the team or user ('' = wandb's default entity)
    "train.wandb.tags": (),
    # 'online' (wandb's default, so WANDB_MODE in the environment still applies), 'offline'
    # (written under WANDB_DIR or the run directory, `wandb sync` later) or 'disabled'
    "train.wandb.mode": "online",
    # the GAN's discriminator stabilisers (models/gan.py): spectral normalisation,
    # DiffAugment ('' = off, else e.g. 'translation,cutout,color'), and the traced weights of
    # the WGAN-GP gradient penalty and the LeCam penalty (absent = not computed)
    "model.spectral_norm": False,
    "model.diffaugment": "",
    "hparams.gp_lambda": 0.0,
    "hparams.lecam_lambda": 0.0,
}
WANDB_KEYS = ("train.wandb.project", "train.wandb.entity", "train.wandb.tags", "train.wandb.mode")
# Keys that may differ between a run directory's config and a restart's: extending a run,
# or watching it elsewhere (tracking changes no number of the run).
RESTART_MAY_CHANGE = ("train.num_steps",) + WANDB_KEYS


def base_config() -> ml_collections.ConfigDict:
  """Defaults shared by every family; a config file overrides what it needs."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.data = dict(
      name="sprites", batch_size=64, resolution=64, toy="ring8", upscale=1,
      data_dir="", num_train=0, num_test=0, eval_batch_size=256, num_eval=2048)
  c.model = dict(
      family="vae", net="conv", latent_dim=10, channels=32, hidden=256,
      widths=(256, 256), likelihood="bernoulli")
  c.hparams = dict(beta=1.0)
  c.optim = dict(
      name="adam", learning_rate=1e-4, schedule="constant", warmup_steps=0,
      b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, grad_clip=0.0)
  c.train = dict(
      num_steps=10_000, log_every=100, checkpoint_every=1000, eval_every=1000,
      figure_every=1000, steps_per_call=1, keep_checkpoints=3, num_figure_samples=64)
  c.evals = dict(elbo=dict(type="elbo"), recon=dict(type="recon"))
  return c


# --- validation rules: (check, message describing the allowed values) -----------------
# Generic sections only. A family's own keys (model.*, hparams.*, its extra optim.* keys)
# are ruled in its module (`Family.config_rules()`); `validate` takes them through
# `rules_of`, so this module imports no model.

Rule = tuple[Callable[[Any], bool], str]
RulesOf = Callable[[str], dict[str, Rule]]  # config.model.family -> that family's rules


def _positive(v):
  return v > 0


def _non_negative(v):
  return v >= 0


def _in(*choices) -> Callable[[Any], bool]:
  return lambda v: v in choices


def one_of(choices: tuple, message: str = "") -> Rule:
  """A rule admitting exactly `choices` (a family passes its own tuple, written once);
  the message lists them unless `message` words it."""
  return _in(*choices), message or "one of " + ", ".join(repr(c) for c in choices)


POSITIVE: Rule = (_positive, "a positive integer")
NON_NEGATIVE: Rule = (_non_negative, ">= 0")
POSITIVE_LIST: Rule = (lambda v: all(w > 0 for w in v), "a list of positive integers")
BETWEEN_0_AND_1: Rule = (lambda v: 0 <= v < 1, "in [0, 1)")
ANY: Rule = (lambda v: True, "any value")  # a known key whose value its family checks itself

_WANDB_FORBIDDEN = "/\\#?%:"  # characters wandb refuses in project and entity names

RULES: dict[str, Rule] = {
    "data.batch_size": POSITIVE,
    "data.eval_batch_size": POSITIVE,
    "data.num_eval": POSITIVE,
    "data.resolution": (_in(16, 32, 64, 128), "one of 16, 32, 64, 128"),
    "data.upscale": POSITIVE,
    "data.num_train": (_non_negative, ">= 0 (0 = all)"),
    "data.num_test": (_non_negative, ">= 0 (0 = the default)"),
    "optim.name": (_in("adam", "adamw", "sgd"), "'adam', 'adamw' or 'sgd'"),
    "optim.learning_rate": (_positive, "> 0"),
    "optim.schedule": (_in("constant", "cosine", "linear", "constant_then_linear"),
                       "'constant', 'cosine', 'linear' or 'constant_then_linear'"),
    "optim.warmup_steps": NON_NEGATIVE,
    "optim.b1": BETWEEN_0_AND_1,
    "optim.b2": BETWEEN_0_AND_1,
    "optim.eps": (_positive, "> 0"),
    "optim.weight_decay": NON_NEGATIVE,
    "optim.grad_clip": (_non_negative, ">= 0 (0 = off)"),
    "train.num_steps": NON_NEGATIVE,
    "train.log_every": POSITIVE,
    "train.checkpoint_every": POSITIVE,
    "train.eval_every": (_non_negative, ">= 0 (0 = off)"),
    "train.figure_every": (_non_negative, ">= 0 (0 = off)"),
    "train.steps_per_call": POSITIVE,
    "train.keep_checkpoints": POSITIVE,
    "train.num_figure_samples": POSITIVE,
    "data.resample": (_in("none", "latent_density", "latent_knn"),
                      "'none', 'latent_density' or 'latent_knn'"),
    "data.resample_every": POSITIVE,
    "data.resample_alpha": NON_NEGATIVE,
    "data.resample_bins": POSITIVE,
    "data.resample_k": (_positive, "a positive integer (the k of the k-th nearest neighbour)"),
    "data.resample_active": (lambda v: 0 <= v < 1, "in [0, 1) (a fraction of the largest std)"),
    "data.resample_max_ratio": (lambda v: v >= 1, ">= 1 (the largest weight over the median)"),
    "data.rare_class": (lambda v: v >= -1, ">= 0, or -1 for none"),
    "data.rare_fraction": (lambda v: 0 <= v <= 1, "in [0, 1]"),
    "data.factor_sizes": (lambda v: all(isinstance(s, int) and s > 0 for s in v),
                          "a list of positive integers (() = the dataset's own)"),
    "data.channels": (_in(0, 1, 3), "0 (from the files), 1 or 3"),
    "train.grad_accum_steps": (_positive, "a positive integer (1 = off)"),
    "train.precision": (_in("float32", "bfloat16"), "'float32' or 'bfloat16'"),
    "train.keep_best": (lambda v: v == "" or v.count("/") == 1, "'' or 'EVAL/METRIC'"),
    "train.keep_best_mode": (_in("min", "max"), "'min' or 'max'"),
    "train.wandb.project": (lambda v: not set(v) & set(_WANDB_FORBIDDEN),
                            f"a wandb project name without any of {_WANDB_FORBIDDEN} ('' = off)"),
    "train.wandb.entity": (lambda v: not set(v) & set(_WANDB_FORBIDDEN),
                           f"a wandb entity without any of {_WANDB_FORBIDDEN} ('' = the default)"),
    "train.wandb.tags": (lambda v: all(isinstance(t, str) and 0 < len(t) <= 64 for t in v),
                         "a tuple of strings of 1 to 64 characters, e.g. ('beta', 'sprites')"),
    "train.wandb.mode": (_in("online", "offline", "disabled"),
                         "'online', 'offline' or 'disabled'"),
}


def cache_root(environ=os.environ) -> str:
  """Where genjax keeps what it computes once (compiled programs, the judges' classifier
  runs, extracted datasets): $GENJAX_CACHE, else $XDG_CACHE_HOME/genjax, else
  ~/.cache/genjax. One root, so that a cluster's small home quota is moved off in one
  place; config keys (`data.cache_dir`, `evals.<name>.cache_dir`) still win for theirs."""
  if environ.get("GENJAX_CACHE"):
    return environ["GENJAX_CACHE"]
  base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "genjax")


def optional(config: ml_collections.ConfigDict, key: str) -> Any:
  """config's dotted `key` (one of OPTIONAL), or the default an absent key means."""
  return flatten(config).get(key, OPTIONAL[key])


def validate(config: ml_collections.ConfigDict, rules_of: RulesOf | None = None) -> None:
  """Checks sections, value ranges and the step-count relations the runner relies on.

  Args:
    config: the config.
    rules_of: config.model.family -> the family's rules (`genjax.models.config_rules`);
      given, the family's keys are checked too, and a key that neither the generic
      sections nor the family know is refused, naming the nearest known key. Without it
      (before jax is imported) only the generic sections are checked.
  """
  missing = [s for s in SECTIONS if s not in config]
  if missing:
    raise ConfigError(f"config lacks section(s) {missing}; start from genjax.config.base_config()")
  flat = flatten(config)
  _check_types(flat)
  rules = RULES
  if rules_of is not None:
    rules = {**RULES, **rules_of(config.model.family)}
    _check_known(flat, rules)
  for key, (ok, allowed) in rules.items():
    try:
      fine = key not in flat or ok(flat[key])
    except TypeError:  # a family's own key holding a value of another type
      fine = False
    if not fine:
      raise ConfigError(f"config.{key}={flat[key]!r} is out of range: it must be {allowed}")
  for key, value in flat.items():
    if key.startswith("hparams.") and not isinstance(value, (int, float)):
      raise ConfigError(f"config.{key}={value!r}: hparams hold numbers only (they are traced)")
    if key.startswith("hparams.") and value < 0:
      raise ConfigError(f"config.{key}={value!r} is out of range: hparams weights must be >= 0")
  t = config.train
  if t.log_every % t.steps_per_call:
    raise ConfigError(
        f"config.train.log_every={t.log_every} must be a multiple of "
        f"train.steps_per_call={t.steps_per_call}")
  if optional(config, "data.resample") != "none":
    every = optional(config, "data.resample_every")
    if every % t.steps_per_call:
      raise ConfigError(f"config.data.resample_every={every} must be a multiple of "
                        f"train.steps_per_call={t.steps_per_call}")
  for key in ("checkpoint_every", "eval_every", "figure_every"):
    if t[key] % t.steps_per_call:
      raise ConfigError(
          f"config.train.{key}={t[key]} must be a multiple of "
          f"train.steps_per_call={t.steps_per_call}")
  for name, ev in config.evals.items():
    if "type" not in ev:
      raise ConfigError(f"config.evals.{name} needs a 'type' (e.g. type='{name}')")


# The sections whose every key this module knows: no family adds keys to them.
_GENERIC_ONLY = ("seed", "data.", "train.")


def _check_known(flat: dict[str, Any], rules: dict[str, Rule], only: tuple[str, ...] = ()) -> None:
  """Refuses a key that no default, optional key or rule knows (evaluator options aside:
  evaluators read them with defaults); `only` limits the check to keys with these prefixes."""
  # An optional model or hparams key is a family's: known only where its rules name it
  # (a GAN's model.spectral_norm is a mistake on a VAE, not a no-op).
  generic_optional = {k: v for k, v in OPTIONAL.items() if not k.startswith(("model.", "hparams."))}
  known = {**flatten(base_config()), **generic_optional, **rules}
  for key in flat:
    if key not in known and not key.startswith("evals.") and key.startswith(only or ("",)):
      raise ConfigError(f"unknown config key 'config.{key}'{_suggest(key, known)}")


def _check_types(flat: dict[str, Any]) -> None:
  """Each key the defaults know holds a value of the defaults' type (an int where a float
  is expected is fine): a hand-edited config.json may hold '16' for 16."""
  known = {**flatten(base_config()), **OPTIONAL}
  for key, value in flat.items():
    if key in known and not key.startswith(("evals.", "hparams.")) and not _same_kind(value, known[key]):
      raise ConfigError(f"config.{key}={value!r} has the wrong type: expected "
                        f"{type(known[key]).__name__} like the default {known[key]!r}")


def _same_kind(value: Any, default: Any) -> bool:
  if isinstance(default, bool) or isinstance(value, bool):
    return isinstance(value, bool) and isinstance(default, bool)
  if isinstance(default, float):
    return isinstance(value, (int, float))
  if isinstance(default, (tuple, list)):
    return isinstance(value, (tuple, list))
  return isinstance(value, type(default))


def read_saved(workdir: str) -> ml_collections.ConfigDict:
  """The config a run directory was trained with (its config.json), checked: a missing
  file, invalid JSON or a value of the wrong type is one error naming the file."""
  from genjax.errors import CheckpointError  # pylint: disable=g-import-not-at-top
  path = os.path.join(workdir, "config.json")
  if not os.path.isfile(path):
    raise CheckpointError(f"no run in '{workdir}' (no config.json); pass the --workdir of a "
                          "genjax train run")
  with open(path) as f:
    text = f.read()
  try:
    config = from_json(text)
  except (ValueError, TypeError, AttributeError) as e:
    raise CheckpointError(f"{path} is not a valid config ({_describe(e)}); restore it from a "
                          "copy, or train into a new --workdir") from None
  try:
    validate(config)
  except ConfigError as e:
    raise CheckpointError(f"{path}: {e}; restore the file from a copy") from None
  return config


# --- loading and overrides ------------------------------------------------------------

def load_config(spec: str, overrides: dict[str, str] | None = None,
                rules_of: RulesOf | None = None) -> ml_collections.ConfigDict:
  """Loads `path/to/file.py[:arg]`, applies `--config.a.b=v` overrides and validates.

  Args:
    spec: a config file path, optionally followed by ':' and the variant argument.
    overrides: dotted key (without the 'config.' prefix) -> the value as typed.
    rules_of: the family rules (see `validate`); None checks the generic sections only
      (the runner checks the family's when it opens the config), which is all a command
      needs before it imports jax.

  Returns:
    The validated, unlocked-for-reading ConfigDict.
  """
  path, _, arg = spec.partition(":")
  module = load_user_module(path, "config", "--config=configs/<family>.py[:variant]")
  if not hasattr(module, "get_config"):
    raise ConfigError(f"config file '{path}' defines no get_config(arg); add one")
  try:
    config = module.get_config(arg or None)
  except ConfigError:
    raise
  except Exception as e:  # pylint: disable=broad-except  # the user's code: any error is theirs
    raise ConfigError(f"get_config({arg or None!r}) in '{path}' raised {_describe(e)}; "
                      "fix the config file") from None
  if not isinstance(config, ml_collections.ConfigDict):
    raise ConfigError(f"get_config({arg or None!r}) in '{path}' returned "
                      f"{type(config).__name__}, not an ml_collections.ConfigDict; return one "
                      "built from genjax.config.base_config()")
  try:  # the file's own keys, before overrides blur where a key came from
    family = rules_of(config.model.family) if rules_of else {}
    _check_known(flatten(config), {**RULES, **family}, () if rules_of else _GENERIC_ONLY)
  except ConfigError as e:
    raise ConfigError(f"config file '{path}': {e}") from None
  apply_overrides(config, overrides or {})
  validate(config, rules_of)
  return config


def load_user_module(path: str, kind: str, usage: str):
  """Executes a user's Python file (a config or a sweep) as a module; a missing file or a
  syntax error is one ConfigError naming the `kind` of file and the `usage` that fixes it."""
  if not os.path.isfile(path):
    raise ConfigError(f"{kind} file '{path}' not found; pass {usage}")
  module_spec = importlib.util.spec_from_file_location(f"genjax_user_{kind}", path)
  module = importlib.util.module_from_spec(module_spec)
  try:
    module_spec.loader.exec_module(module)
  except SyntaxError as e:
    raise ConfigError(f"{kind} file '{path}' has a syntax error at line {e.lineno}: {e.msg}") from None
  except ImportError as e:
    raise ConfigError(f"{kind} file '{path}' imports {e.name or 'a module'!r}, which is not "
                      "installed here; install it or remove the import") from None
  except Exception as e:  # pylint: disable=broad-except  # the user's code: any error is theirs
    raise ConfigError(f"{kind} file '{path}' raised {_describe(e)} while loading; fix the "
                      "file") from None
  return module


def _describe(e: Exception) -> str:
  """'ValueError: boom': the error's type and message, on one line."""
  text = " ".join(str(e).split())
  return f"{type(e).__name__}: {text}" if text else type(e).__name__


def apply_overrides(config: ml_collections.ConfigDict, overrides: dict[str, str]) -> None:
  """Sets each dotted key to its parsed value, refusing unknown keys and wrong types."""
  flat = flatten(config)
  for key, text in overrides.items():
    if key not in flat and key not in OPTIONAL:
      raise ConfigError(f"unknown config key 'config.{key}'{_suggest(key, {**OPTIONAL, **flat})}")
    value = _coerce(key, text, flat[key] if key in flat else OPTIONAL[key])
    parent, _, leaf = key.rpartition(".")
    node = config
    for part in parent.split(".") if parent else []:
      if part not in node:  # an optional key's section (train.wandb) the config lacks
        node[part] = ml_collections.ConfigDict()
      node = node[part]
    with node.ignore_type():
      node[leaf] = value


def set_eval_option(config: ml_collections.ConfigDict, key: str, text: Any) -> None:
  """Sets `evals.NAME.OPTION` for an evaluation of a trained run, creating what is absent.

  Evaluator options are read with defaults (`cfg.get('k', 1000)`), so most are not in the
  config; an unknown NAME becomes an evaluator of that type. Values parse as literals.
  """
  parts = key.split(".")
  if len(parts) != 3 or parts[0] != "evals":
    raise ConfigError(f"config.{key}: evaluation options are written config.evals.NAME.OPTION")
  _, name, option = parts
  if name not in config.evals:
    config.evals[name] = ml_collections.ConfigDict({"type": name})
  if option in config.evals[name]:
    apply_overrides(config, {key: text})
    return
  try:
    value = ast.literal_eval(text) if isinstance(text, str) else text
  except (ValueError, SyntaxError):
    value = text
  config.evals[name][option] = value


def _suggest(key: str, known: dict[str, Any]) -> str:
  close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
  return f"; did you mean 'config.{close[0]}'?" if close else "; see the config file for the known keys"


def _coerce(key: str, text: Any, current: Any) -> Any:
  """Parses `text` into the type of the current value (int -> float is allowed)."""
  if not isinstance(text, str):
    value = text
  else:
    try:
      value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      value = text
  want = type(current)
  if isinstance(current, bool):
    ok = isinstance(value, bool)
  elif isinstance(current, float):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    value = float(value) if ok else value
  elif isinstance(current, int):
    ok = isinstance(value, int) and not isinstance(value, bool)
  elif isinstance(current, str):
    ok = True
    value = text if isinstance(text, str) else str(value)
  elif isinstance(current, (tuple, list)):
    ok = isinstance(value, (tuple, list))
    value = tuple(value) if ok else value
  else:
    ok = isinstance(value, want)
  if not ok:
    raise ConfigError(
        f"config.{key}={text!r} has the wrong type: expected {want.__name__} "
        f"like the default {current!r}")
  return value


# --- comparison and hashing -----------------------------------------------------------

def flatten(config: ml_collections.ConfigDict | dict, prefix: str = "") -> dict[str, Any]:
  """{'a': {'b': 1}} -> {'a.b': 1}."""
  out = {}
  for key, value in config.items():
    path = f"{prefix}{key}"
    if isinstance(value, (dict, ml_collections.ConfigDict)):
      out.update(flatten(value, path + "."))
    else:
      out[path] = value
  return out


def to_json(config: ml_collections.ConfigDict) -> str:
  return json.dumps(config.to_dict(), sort_keys=True, indent=2, default=list)


def from_json(text: str) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(_lists_to_tuples(json.loads(text)))


def _lists_to_tuples(node):
  if isinstance(node, dict):
    return {k: _lists_to_tuples(v) for k, v in node.items()}
  if isinstance(node, list):
    return tuple(_lists_to_tuples(v) for v in node)
  return node


def differing_keys(a: ml_collections.ConfigDict, b: ml_collections.ConfigDict) -> list[str]:
  """Dotted keys whose values differ (compared through JSON, so tuples equal lists)."""
  fa = flatten(json.loads(to_json(a)))
  fb = flatten(json.loads(to_json(b)))
  return sorted(k for k in set(fa) | set(fb) if fa.get(k, "<absent>") != fb.get(k, "<absent>"))


def fingerprint(config: ml_collections.ConfigDict) -> str:
  """A short hash of everything but the keys a restart may change."""
  flat = flatten(json.loads(to_json(config)))
  for key in RESTART_MAY_CHANGE:
    flat.pop(key, None)
  return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()[:12]


def pick_variant(arg: str | None, variants: dict[str, Callable[[], ml_collections.ConfigDict]],
                 default: str) -> ml_collections.ConfigDict:
  """For config files: builds variant `arg` (or the default), refusing unknown names."""
  name = arg or default
  if name not in variants:
    raise ConfigError(
        f"unknown config variant '{name}'{_close(name, variants)}; choose one of {sorted(variants)}")
  return variants[name]()


def _close(name, options):
  close = difflib.get_close_matches(name, list(options), n=1)
  return f" (did you mean '{close[0]}'?)" if close else ""


def hparams_as_arrays(config: ml_collections.ConfigDict):
  """config.hparams as a dict of float32 scalars: traced, so changing them never recompiles."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  return {k: jnp.float32(v) for k, v in config.hparams.items()}
