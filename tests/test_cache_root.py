"""One cache root for everything genjax computes once: compiled programs, judges, datasets."""
from __future__ import annotations

import os

import ml_collections

from genjax import compile_cache
from genjax import config as gconfig
from genjax.data import records
from genjax.train import judge


def test_genjax_cache_then_xdg_then_home():
  assert gconfig.cache_root({"GENJAX_CACHE": "/a", "XDG_CACHE_HOME": "/b"}) == "/a"
  assert gconfig.cache_root({"XDG_CACHE_HOME": "/b"}) == "/b/genjax"
  assert gconfig.cache_root({}) == os.path.join(os.path.expanduser("~"), ".cache", "genjax")


def test_every_cache_follows_genjax_cache_unless_its_own_key_is_set(monkeypatch, tmp_path):
  monkeypatch.setenv("GENJAX_CACHE", str(tmp_path))
  data_cfg = ml_collections.ConfigDict({"cache_dir": ""})
  assert records.cache_dir(data_cfg) == str(tmp_path)
  assert judge.cache_dir(ml_collections.ConfigDict({"cache_dir": ""})) == str(tmp_path)
  assert compile_cache.default_dir() == os.path.join(str(tmp_path), "jax_compilation")
  data_cfg.cache_dir = "/big/disk"
  assert records.cache_dir(data_cfg) == "/big/disk"
  assert judge.cache_dir(ml_collections.ConfigDict({"cache_dir": "/judges"})) == "/judges"
