"""Config loading, overrides and validation."""
from __future__ import annotations

import pytest

from genjax import config as gconfig
from genjax.errors import ConfigError
from tests.conftest import load


def test_overrides_are_parsed_into_the_default_types():
  c = load("vae.py:smoke", hparams__beta="2", data__batch_size="32", model__widths="(64, 32)",
           data__name="digits", model__net="mlp")
  assert c.hparams.beta == 2.0 and isinstance(c.hparams.beta, float)
  assert c.data.batch_size == 32 and c.model.widths == (64, 32) and c.data.name == "digits"


@pytest.mark.parametrize("overrides,message", [
    ({"train.log_every": "7", "train.steps_per_call": "2"}, "multiple of train.steps_per_call"),
    ({"optim.schedule": "cosin"}, "optim.schedule"),
    ({"model.likelihood": "poisson"}, "model.likelihood"),
    ({"data.batch_size": "2.5"}, "wrong type"),
    ({"hparams.beta": "True"}, "wrong type"),
])
def test_invalid_values_raise_config_error(overrides, message):
  with pytest.raises(ConfigError, match=message):
    load("vae.py:smoke", **{k.replace(".", "__"): v for k, v in overrides.items()})


def test_fingerprint_ignores_only_the_step_count():
  a = load("vae.py:smoke")
  assert gconfig.fingerprint(a) == gconfig.fingerprint(load("vae.py:smoke", train__num_steps=99))
  assert gconfig.fingerprint(a) != gconfig.fingerprint(load("vae.py:smoke", hparams__beta=1.0))
  assert gconfig.differing_keys(a, gconfig.from_json(gconfig.to_json(a))) == []


def test_every_config_variant_validates():
  for spec in ("vae.py", "autoencoder.py"):
    for variant in ("sprites", "sprites32", "digits", "toy2d", "smoke"):
      gconfig.validate(load(f"{spec}:{variant}"))
