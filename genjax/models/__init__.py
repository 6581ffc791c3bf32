"""Model families: one file each, all implementing the Family protocol (see GUIDE section 3)."""
from __future__ import annotations

import difflib

import ml_collections

from genjax import config as gconfig
from genjax.core.dataset import DatasetInfo
from genjax.errors import ConfigError
from genjax.models import (autoencoder, classifier, common, cyclegan, diffusion, flow, gan, pix2pix,
                          vae)

FAMILIES = {
    "autoencoder": autoencoder.Autoencoder,
    "classifier": classifier.Classifier,
    "cyclegan": cyclegan.CycleGAN,
    "diffusion": diffusion.Diffusion,
    "flow": flow.Flow,
    "gan": gan.GAN,
    "pix2pix": pix2pix.Pix2Pix,
    "vae": vae.VAE,
}


def build_family(config: ml_collections.ConfigDict, info: DatasetInfo):
  """The family named by config.model.family, built for the dataset described by `info`."""
  family = _family_class(config.model.family).from_config(config, info)
  if not hasattr(family, "micro_batches"):  # pix2pix, cyclegan: see models/common.py
    common.micro_batches(config, f"model.family='{config.model.family}' has no micro-batch "
                         "path in its step")
  return family


def config_rules(name: str) -> dict[str, gconfig.Rule]:
  """Family `name`'s config rules (its `config_rules()`), for `genjax.config.validate`.

  Args:
    name: a config.model.family.

  Returns:
    Dotted key -> (check, allowed values) for every key the family reads beyond the
    generic sections.
  """
  cls = _family_class(name)
  if not hasattr(cls, "config_rules"):  # a new family's author forgot them: say what to add
    raise ConfigError(f"model family '{name}' states no config rules; define the classmethod "
                      f"{cls.__name__}.config_rules() (see genjax/models/config_rules.py)")
  return cls.config_rules()


def _family_class(name: str):
  if name not in FAMILIES:
    close = difflib.get_close_matches(name, list(FAMILIES), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(
        f"unknown model family '{name}'{hint}; set config.model.family to one of {sorted(FAMILIES)}")
  return FAMILIES[name]
