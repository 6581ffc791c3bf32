"""Each family owns its config rules: every variant of every config file meets its family's
rules, the generic RULES repeat none of them, and an unknown key in a config file is one
error line naming the nearest known key (before jax for the generic sections, through the
CLI too)."""
from __future__ import annotations

import os

import pytest

from genjax import config as gconfig
from genjax import models
from genjax.errors import ConfigError
from tests.conftest import ROOT, run_cli
from tests.train.test_every_config import CONFIG_FILES, variant_names


@pytest.mark.parametrize("config_file", CONFIG_FILES)
def test_every_variant_meets_its_familys_rules_and_sets_no_unknown_key(config_file):
  for variant in variant_names(config_file):
    spec = os.path.join(ROOT, "configs", f"{config_file}:{variant}")
    config = gconfig.load_config(spec, None, models.config_rules)
    assert config.model.family in models.FAMILIES, (config_file, variant)


def test_generic_rules_hold_no_family_key():
  family_keys = {k for name in models.FAMILIES for k in models.config_rules(name)}
  assert not [k for k in gconfig.RULES if k.startswith(("model.", "hparams."))]
  assert not family_keys & set(gconfig.RULES)


def _config_file(tmp_path, line: str) -> str:
  path = tmp_path / "typo.py"
  path.write_text("from genjax import config as gconfig\n\n\ndef get_config(arg=None):\n"
                  f"  c = gconfig.base_config()\n  {line}\n  return c\n")
  return str(path)


def test_an_unknown_family_key_in_a_config_file_names_the_file_and_the_nearest_key(tmp_path):
  path = _config_file(tmp_path, "c.model.latent_dims = 3")
  with pytest.raises(ConfigError) as err:
    gconfig.load_config(path, None, models.config_rules)
  assert str(err.value) == (f"config file '{path}': unknown config key 'config.model.latent_dims'; "
                            "did you mean 'config.model.latent_dim'?")
  with pytest.raises(ConfigError, match="unknown config key 'config.model.latent_dims'"):
    gconfig.validate(gconfig.load_config(path), models.config_rules)  # as the runner checks


def test_an_unknown_generic_key_is_refused_before_the_family_is_known(tmp_path):
  path = _config_file(tmp_path, "c.data.batch_sise = 3")
  with pytest.raises(ConfigError, match="unknown config key 'config.data.batch_sise'; did you "
                     "mean 'config.data.batch_size'"):
    gconfig.load_config(path)


def test_an_unknown_key_in_a_config_file_is_one_cli_line_and_exit_2(tmp_path):
  path = _config_file(tmp_path, "c.train.num_step = 3")
  proc = run_cli("train", f"--config={path}", f"--workdir={tmp_path / 'run'}")
  assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-1500:]
  assert proc.stderr.strip() == (f"genjax: error: config file '{path}': unknown config key "
                                 "'config.train.num_step'; did you mean 'config.train.num_steps'?")
  assert not (tmp_path / "run").exists()


def test_a_family_without_config_rules_is_one_line_naming_what_to_define(monkeypatch):
  monkeypatch.setitem(models.FAMILIES, "bare", type("Bare", (), {}))
  with pytest.raises(ConfigError, match=r"model family 'bare' states no config rules; define "
                     r"the classmethod Bare.config_rules\(\)"):
    models.config_rules("bare")


@pytest.mark.parametrize("key, value", [("model.spectral_norm", "True"),
                                        ("hparams.lecam_lambda", "0.1"),
                                        ("model.ode_rtol", "1e-3")])
def test_another_familys_optional_key_is_refused(key, value):
  """Optional model/hparams keys belong to the families whose rules name them: a GAN's
  spectral norm or a diffusion model's ODE tolerance on a VAE is refused, not ignored."""
  spec = os.path.join(ROOT, "configs", "vae.py:smoke")
  with pytest.raises(ConfigError, match=f"unknown config key 'config.{key}'"):
    gconfig.load_config(spec, {key: value}, models.config_rules)
  owner = "diffusion.py:smoke" if key.startswith("model.ode_") else "gan.py:smoke"
  gconfig.load_config(os.path.join(ROOT, "configs", owner), {key: value}, models.config_rules)
