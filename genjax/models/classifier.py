"""The classifier family: a softmax classifier trained with genjax's own runner.

It is the feature extractor and judge behind the sample-quality evaluators (class_modes,
precision/recall, Frechet distance): trained on the labelled embedded data, never
downloaded. `features` returns the penultimate activations. `digits_config` is the judge's
config, owned here beside the family (configs/classifier.py and the judge cache use it).
"""
from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from genjax import config as gconfig
from genjax.core.dataset import DatasetInfo
from genjax.core.optim import make_optimizer
from genjax.core.state import TrainState
from genjax.errors import ConfigError
from genjax.models import common, config_rules, nets
from genjax.nets import conv, mlp


def digits_config(upscale: int = 1) -> ml_collections.ConfigDict:
  """The digits classifier: an MLP at 8x8, a conv net when upscaled to 16x16 or more."""
  c = gconfig.base_config()
  c.data.name = "digits"
  c.data.upscale = upscale
  c.data.batch_size = 100
  c.data.eval_batch_size = 297
  c.data.num_eval = 297
  c.model = dict(family="classifier", net="mlp" if upscale == 1 else "conv", widths=(256,),
                 hidden=128, channels=32)
  c.hparams = dict()
  c.optim.learning_rate = 1e-3
  c.train.num_steps = 2000
  c.train.steps_per_call = 20
  c.train.log_every = 200
  c.train.checkpoint_every = 2000
  c.train.eval_every = 1000
  c.train.figure_every = 0
  c.evals = dict(accuracy=dict(type="accuracy"))
  return c


class _Net(nn.Module):
  """Trunk (conv or MLP) -> features -> logits."""
  trunk: nn.Module
  num_classes: int

  @nn.compact
  def __call__(self, x):
    features = nn.relu(self.trunk(x))
    return nn.Dense(self.num_classes)(features), features


@dataclasses.dataclass(frozen=True)
class Classifier:
  """A classifier family; build it with `Classifier.from_config(config, info)`."""
  net: nn.Module
  optimizer: optax.GradientTransformation
  micro_batches: int = 1  # train.grad_accum_steps
  precision: str = "float32"  # train.precision: what the network computes in (common.apply_net)

  @classmethod
  def config_rules(cls) -> dict:
    """Every config key this family reads beyond the generic sections, with its rule."""
    return dict(config_rules.BASE)

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, info: DatasetInfo) -> "Classifier":
    if not info.num_classes:
      raise ConfigError(f"model.family='classifier' needs labels, but '{info.name}' has none")
    m = config.model
    nets.refuse_dislib(m, "classifier")
    if m.net == "conv":
      trunk = conv.ConvEncoder(m.hidden, channels=m.channels, hidden=m.hidden)
    else:
      trunk = mlp.MLP(tuple(m.widths), m.hidden)
    return cls(net=_Net(trunk, info.num_classes),
               optimizer=make_optimizer(config.optim, config.train.num_steps),
               micro_batches=common.micro_batches(config), precision=common.precision(config))

  def init(self, rng: jax.Array, batch: dict, hp: dict) -> TrainState:
    del hp
    params = {"net": self.net.init(rng, batch["x"][:1])["params"]}
    return common.new_state(params, self.optimizer)

  def logits(self, state: TrainState, x: jax.Array) -> jax.Array:
    return self._net(state.params, x)[0]

  def features(self, state: TrainState, x: jax.Array) -> jax.Array:
    return self._net(state.params, x)[1]

  def train_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict):
    return common.gradient_step(self._loss, self.optimizer, state, batch, rng, hp,
                                self.micro_batches)

  def eval_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict) -> dict:
    del rng, hp
    logits = self.logits(state, batch["x"])
    nll = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"])
    return {"nll": nll, "correct": (logits.argmax(-1) == batch["label"]).astype(jnp.float32)}

  def _loss(self, params, batch, rng, hp):
    del rng, hp
    logits = self._net(params, batch["x"])[0]
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()
    accuracy = (logits.argmax(-1) == batch["label"]).mean()
    return loss, {"loss": loss, "accuracy": accuracy}

  def _net(self, params, x):
    """(logits, features), computed in train.precision."""
    return common.apply_net(self.precision, self.net, params["net"], x)
