"""The import rules of GUIDE section 2, read from the source with `ast` (no module is imported).

cli -> sweeps -> train -> (models, data, evals) -> nets -> core. `genjax.errors` and
`genjax.config` (the generic config schema; it imports only errors) sit on the ground floor
beside core; `viz`, `interrupt` and `malloc_env` import nothing of ours, `compile_cache` only
config. The package's `__init__` reaches the Python API (`genjax.train`, `genjax.load`)
lazily, and nothing else. Imports inside functions count: a lazy import is still a
dependency.
"""
from __future__ import annotations

import ast
import os

import pytest

from tests.conftest import ROOT

_PACKAGE = os.path.join(ROOT, "genjax")
_FLOOR = ("genjax.errors", "genjax.core", "genjax.config")
# Each layer: the modules it may import (a prefix also covers its submodules), and the rule.
_RULES = {
    "genjax.errors": ((), "errors imports nothing of ours"),
    "genjax.core": (("genjax.core", "genjax.errors"), "core imports nothing else of ours"),
    "genjax.config": (("genjax.errors", "genjax.core"), "config is generic: errors and core only"),
    "genjax.viz": ((), "viz imports nothing of ours"),
    "genjax.interrupt": ((), "interrupt imports nothing of ours"),
    "genjax.malloc_env": ((), "malloc_env imports nothing of ours"),
    "genjax.compile_cache": (("genjax.config",), "compile_cache imports only config (the "
                                                 "cache root)"),
    "genjax.nets": (("genjax.nets",) + _FLOOR, "nets import only nets and the ground floor"),
    "genjax.models": (("genjax.models", "genjax.nets") + _FLOOR,
                      "models import only core, nets and their own package"),
    "genjax.data": (("genjax.data",) + _FLOOR, "data imports no model and nothing from train"),
    "genjax.evals": (("genjax.evals", "genjax.data", "genjax.viz") + _FLOOR,
                     "evaluators import no train and no model (families reach them through "
                     "genjax.core.family's protocols)"),
    "genjax.train": (("genjax.train", "genjax.models", "genjax.data", "genjax.evals",
                      "genjax.nets", "genjax.viz") + _FLOOR, "train imports no sweeps or cli"),
    "genjax.sweeps": (("genjax.sweeps", "genjax.train", "genjax.models", "genjax.data",
                       "genjax.evals", "genjax.nets", "genjax.viz") + _FLOOR,
                      "sweeps import no cli"),
    "genjax.cli": (("genjax.sweeps", "genjax.train", "genjax.models", "genjax.data",
                    "genjax.evals", "genjax.nets", "genjax.viz", "genjax.interrupt",
                    "genjax.compile_cache") + _FLOOR,
                   "the cli is the top"),
    "genjax.__main__": (("genjax.cli", "genjax.interrupt", "genjax.malloc_env"),
                        "the entry point sets the allocator up and runs the cli"),
    "genjax": (("genjax.train",), "the package's __init__ imports only the Python API, lazily "
                                  "(genjax.train and genjax.train.api, on first use)"),
}


def _modules() -> dict[str, str]:
  """Dotted module name -> its file, for every module under genjax/."""
  out = {}
  for folder, _, files in os.walk(_PACKAGE):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(folder, name)
        parts = os.path.relpath(path, ROOT)[:-3].split(os.sep)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
  return out


_MODULES = _modules()


def _imports(module: str, path: str) -> set[str]:
  """The genjax modules `module` imports anywhere in its file (`from pkg import sub` names
  the submodule when there is one)."""
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
  out = set()
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      out.update(a.name for a in node.names if a.name.split(".")[0] == "genjax")
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:
        anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join(anchor + ([node.module] if node.module else []))
      if base.split(".")[0] != "genjax":
        continue
      for alias in node.names:
        sub = f"{base}.{alias.name}"
        out.add(sub if sub in _MODULES else base)
  out.discard(module)
  return out


_GRAPH = {m: _imports(m, p) for m, p in _MODULES.items()}


def _layer(module: str) -> str:
  return max((k for k in _RULES if module == k or module.startswith(k + ".")), key=len)


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
  return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_every_import_follows_the_layering():
  violations = []
  for module, imported in sorted(_GRAPH.items()):
    allowed, rule = _RULES[_layer(module)]
    for target in sorted(imported):
      if not _within(target, allowed):
        violations.append(f"{module} imports {target}: {rule}")
  assert not violations, "\n".join(violations)


def test_nothing_imports_the_cli():
  importers = [m for m, imported in _GRAPH.items() if "genjax.cli" in imported]
  assert importers in ([], ["genjax.__main__"]), f"{importers} import genjax.cli"


def test_there_are_no_import_circles():
  state: dict[str, int] = {}  # 1: on the current path, 2: finished

  def visit(module: str, path: list[str]) -> None:
    state[module] = 1
    for target in sorted(_GRAPH.get(module, ())):
      if state.get(target) == 1:
        cycle = path[path.index(target):] + [target]
        pytest.fail("import circle: " + " -> ".join(cycle))
      if target in _GRAPH and not state.get(target):
        visit(target, path + [target])
    state[module] = 2

  for module in sorted(_GRAPH):
    if not state.get(module):
      visit(module, [module])


@pytest.mark.parametrize("config_file", sorted(
    f for f in os.listdir(os.path.join(ROOT, "configs")) if f.endswith(".py")))
def test_config_files_import_no_evaluator_or_trainer(config_file):
  path = os.path.join(ROOT, "configs", config_file)
  imported = _imports(f"configs.{config_file[:-3]}", path)
  bad = [m for m in imported if _within(m, ("genjax.evals", "genjax.train", "genjax.sweeps",
                                             "genjax.cli"))]
  assert not bad, f"configs/{config_file} imports {bad}: config files are data"
