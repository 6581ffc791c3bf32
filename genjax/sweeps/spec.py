"""A sweep file and its members.

`experiments/<study>/sweep.py` defines

  CONFIG = "configs/vae.py:sprites32"      # the base config (`--config` may replace it)
  def get_sweep() -> list[dict]:            # one dict of dotted overrides per member
    return [{"hparams.beta": b, "seed": s} for b in (1, 4) for s in range(3)]

Each member trains into `<root>/<name>`, its name spelled from its overrides
(`beta=4_seed=1`), so relaunching a sweep finds the same directories again.
"""
from __future__ import annotations

import dataclasses
import re

from genjax import config as gconfig
from genjax.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Member:
  """One run of a sweep: its directory name and its config overrides."""
  name: str
  overrides: dict

  def all_overrides(self, base: dict) -> dict:
    """The sweep-wide overrides (from the command line), then the member's own."""
    return {**base, **self.overrides}


@dataclasses.dataclass(frozen=True)
class Sweep:
  path: str
  config: str
  members: tuple[Member, ...]  # the ones to run (all, or those --members picks)
  listed: tuple[Member, ...] = ()  # every member of the file: the sweep the report covers


def load_sweep(path: str, config: str | None = None, members: str | None = None) -> Sweep:
  """Reads a sweep file; `config` (from --config) replaces the file's CONFIG, and `members`
  (a regular expression, from --members) keeps only the members whose name it matches."""
  module = gconfig.load_user_module(path, "sweep", "--sweep=experiments/<study>/sweep.py")
  if not hasattr(module, "get_sweep"):
    raise ConfigError(f"sweep file '{path}' defines no get_sweep(); add one returning a list of "
                      "override dicts")
  config = config or getattr(module, "CONFIG", None)
  if not config:
    raise ConfigError(f"sweep file '{path}' sets no CONFIG; add CONFIG = 'configs/<family>.py:"
                      "<variant>' or pass --config")
  overrides = _call_get_sweep(module, path)
  pattern = members
  all_members = listed = tuple(Member(member_name(o), dict(o)) for o in overrides)
  names = [m.name for m in all_members]
  if len(set(names)) != len(names):
    twice = sorted({n for n in names if names.count(n) > 1})
    raise ConfigError(f"get_sweep() in '{path}' lists the same member twice: {twice[:3]}")
  if pattern:
    try:
      chosen = tuple(m for m in all_members if re.search(pattern, m.name))
    except re.error as e:
      raise ConfigError(f"--members={pattern!r} is not a regular expression: {e}") from None
    if not chosen:
      raise ConfigError(f"--members={pattern!r} matches none of the {len(all_members)} members "
                        f"(e.g. '{all_members[0].name}')")
    all_members = chosen
  return Sweep(path=path, config=config, members=all_members, listed=listed)


def _call_get_sweep(module, path: str) -> list[dict]:
  """get_sweep()'s members, checked: a list (or tuple) of dicts with dotted string keys."""
  usage = "a non-empty list of dicts of dotted config overrides, e.g. [{'hparams.beta': 4.0}]"
  try:
    overrides = module.get_sweep()
  except Exception as e:  # pylint: disable=broad-except  # the user's code: any error is theirs
    raise ConfigError(f"get_sweep() in '{path}' raised {type(e).__name__}: "
                      f"{' '.join(str(e).split())}; fix the sweep file") from None
  if not isinstance(overrides, (list, tuple)) or not overrides:
    raise ConfigError(f"get_sweep() in '{path}' returned {_short(overrides)}; it must return "
                      + usage)
  for i, member in enumerate(overrides):
    if not isinstance(member, dict):
      raise ConfigError(f"get_sweep() in '{path}': member {i} is {_short(member)}, not a dict; "
                        f"return {usage}")
    bad = [k for k in member if not isinstance(k, str) or not k]
    if bad:
      raise ConfigError(f"get_sweep() in '{path}': member {i} has the key {bad[0]!r}, not a "
                        "dotted config key such as 'hparams.beta'; keys must be strings")
  return list(overrides)


def _short(value) -> str:
  text = repr(value)
  return text if len(text) <= 40 else f"a {type(value).__name__}"


def member_name(overrides: dict) -> str:
  """{'hparams.beta': 4.0, 'seed': 1} -> 'beta=4_seed=1' (the last key part, a short value)."""
  if not overrides:
    return "base"
  parts = []
  for key, value in overrides.items():
    if isinstance(value, float) and value.is_integer():
      value = int(value)
    text = str(value).replace(" ", "")
    parts.append(f"{key.rpartition('.')[2]}={text}")
  return re.sub(r"[^A-Za-z0-9=._,+-]", "-", "_".join(parts))
