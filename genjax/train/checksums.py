"""Checksums and shapes of saved pytrees, keyed by a plain leaf path ('params/enc/kernel').

A checkpoint's `meta` item records a hash of every array's bytes when it is saved; a
restore compares them with the bytes read back, so a flipped bit in a file is found
instead of restored silently. Shapes let a restore tell a checkpoint of another model
(refused) from a damaged one (set aside) before it reads any array.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import jax
import numpy as np



def tree_checksums(tree: Any) -> dict[str, str | None]:
  """{leaf path: hash of its bytes} for a pytree of arrays, computed on this host.

  A leaf spread over several hosts without a full copy on this one gets None (not
  checked); replicated leaves, the only kind genjax saves today, are hashed from the
  local copy.
  """
  return {path: _digest(leaf) for path, leaf in _leaves(tree).items()}


def json_checksum(value: Any) -> str:
  """A hash of a JSON item as it reads back (tuples become lists, keys strings)."""
  text = json.dumps(json.loads(json.dumps(value)), sort_keys=True)
  return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def shapes(tree: Any) -> dict[str, tuple[tuple[int, ...], str]]:
  """{leaf path: (shape, dtype)} of arrays, abstract arrays or Orbax array metadata."""
  return {path: (tuple(leaf.shape), str(leaf.dtype))
          for path, leaf in _leaves(tree).items()}


def _leaves(tree: Any) -> dict[str, Any]:
  """Leaves by a path of plain key names, the same for a TrainState and Orbax's saved tree."""
  if hasattr(tree, "tree") and not hasattr(tree, "shape"):  # Orbax TreeMetadata
    tree = tree.tree
  flat, _ = jax.tree_util.tree_flatten_with_path(
      tree, is_leaf=lambda x: hasattr(x, "shape") and hasattr(x, "dtype"))
  return {"/".join(str(_key_name(k)) for k in path): leaf for path, leaf in flat}


def _key_name(key) -> Any:
  for attr in ("key", "name", "idx"):
    if hasattr(key, attr):
      return getattr(key, attr)
  return key


def _digest(leaf: Any) -> str | None:
  if isinstance(leaf, jax.Array):
    if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
      leaf = jax.random.key_data(leaf)
    if not leaf.is_fully_addressable:
      if not leaf.is_fully_replicated:
        return None
      leaf = leaf.addressable_shards[0].data
  array = np.ascontiguousarray(np.asarray(leaf))
  h = hashlib.blake2b(digest_size=16)
  h.update(f"{array.dtype.str}{array.shape}".encode())
  h.update(array.view(np.uint8).reshape(-1) if array.size else b"")
  return h.hexdigest()


def differences(saved: dict, wanted: dict) -> str:
  """A short description of how two {path: (shape, dtype)} maps differ ('' if equal)."""
  out = []
  for path in sorted(set(saved) | set(wanted)):
    if saved.get(path) != wanted.get(path):
      fmt = lambda s: "absent" if s is None else f"{list(s[0])} {s[1]}"
      out.append(f"{path} (saved {fmt(saved.get(path))}, now {fmt(wanted.get(path))})")
  more = f" and {len(out) - 3} more" if len(out) > 3 else ""
  return ", ".join(out[:3]) + more


def mismatch(recorded: dict | None, restored) -> str:
  """The first restored leaf whose bytes differ from the recorded hash ('' if none).

  Steps saved before checksums were recorded carry none and are accepted as read.
  """
  if not recorded:
    return ""
  for name in ("state", "acc"):
    now = tree_checksums(restored[name])
    for path, digest in recorded.get(name, {}).items():
      if digest is not None and now.get(path) not in (digest, None):
        return f"{name} leaf '{path}'"
  if "data" in recorded and json_checksum(restored.data) != recorded["data"]:
    return "the data-iterator state"
  return ""
