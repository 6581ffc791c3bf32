"""Data-test helpers: the config's `data` section with overrides."""
from __future__ import annotations

import pytest

from genjax import config as gconfig


@pytest.fixture
def data_cfg():
  """data_cfg(name='digits', upscale=2): the default `data` section with overrides."""
  def make(**overrides):
    cfg = gconfig.base_config().data
    cfg.update(overrides)
    return cfg
  return make
