"""Config rules the families share: the base config's model section, and the decoders'.

Each family states its config in `Family.config_rules()`: every key it reads beyond the
generic sections (`genjax.config.RULES`), each with the rule its value must meet. The
runner checks them (`genjax.config.validate(config, genjax.models.config_rules)`), and a
key no rule names is refused as unknown. The rules here are the pieces several families
share; a family merges the ones it reads with its own.
"""
from __future__ import annotations

from genjax import config as gconfig
from genjax.models import likelihoods

Rule = gconfig.Rule

# Every config has these (genjax.config.base_config()'s model section and hparams.beta),
# and every family reads hparams.ema_decay when it is set.
BASE: dict[str, Rule] = {
    "model.family": gconfig.ANY,  # checked against the registry, genjax.models.FAMILIES
    "model.net": gconfig.one_of(("conv", "dislib_conv", "mlp"), "'conv', 'dislib_conv' or 'mlp'"),
    "model.latent_dim": gconfig.POSITIVE,
    "model.channels": gconfig.POSITIVE,
    "model.hidden": gconfig.POSITIVE,
    "model.widths": gconfig.POSITIVE_LIST,
    "model.likelihood": gconfig.ANY,  # a decoder's choice: see DECODER
    "hparams.beta": gconfig.NON_NEGATIVE,
    # The parameter EMA that every family keeps when > 0 (models/common.py, train/session.py).
    "hparams.ema_decay": (lambda v: 0 <= v <= 1, "in [0, 1] (0 = off)"),
}

# The pixel grid (the optional model.levels): a binomial decoder's n, diffusion's image grid.
LEVELS: dict[str, Rule] = {
    "model.levels": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0,
                     "a positive integer (pixel values k / levels, k = 0..levels)"),
}

# The VAE-style decoders' likelihood p(x | z).
DECODER: dict[str, Rule] = {
    "model.likelihood": gconfig.one_of(likelihoods.LIKELIHOODS,
                                       "'bernoulli', 'binomial' or 'gaussian'"),
    **LEVELS,
}

# A second optimiser for a discriminator (GANs, FactorVAE's total-correlation critic): its
# own learning rate is the two time-scale update rule (TTUR, Heusel et al. 2017).
DISC_LEARNING_RATE: dict[str, Rule] = {
    "optim.disc_learning_rate": (lambda v: v >= 0, ">= 0 (0 = optim.learning_rate)"),
}


def known(*keys: str) -> dict[str, Rule]:
  """Keys a family reads and checks itself (in `from_config`, where it knows the data)."""
  return {key: gconfig.ANY for key in keys}
