"""The normalizing-flow family: exact log-likelihood by change of variables, z = f(x) ~ N(0, I).

f is a RealNVP/Glow coupling flow (`genjax/nets/coupling.py`) and
log p(x) = log N(f(x); 0, I) + log|det df/dx|, exact, so `log_prob_bound` is a tight
bound (equal to -log p(x)) wherever the data are continuous:
- vectors (toy2d): the flow models the raw points; `log_prob_bound` is the exact NLL in
  nats, the same continuous density as the likelihood table's ring8 column.
- images on the grid k / L (L = model.levels; digits: 16, the counts 0..16): uniform
  dequantisation (Theis et al. 2016; Dinh et al. 2017). Each pixel's count c becomes
  v = (c + u) / (L + 1), u ~ U[0, 1), and the flow models y = logit(a + (1 - 2a) v)
  (a = model.logit_alpha, RealNVP's logit transform, its log-det counted). The discrete
  probability of the counts then obeys, by Jensen,
      -log P(c) <= E_u[-log p_v((c + u) / (L + 1))] + D log(L + 1),
  and `log_prob_bound` is the one-draw estimate of the right side: nats of a probability
  on the L + 1 levels per pixel, the convention of the likelihood table's digits row
  (uniform over the 17 counts: 64 ln 17 = 181.3 nats). Training minimises the same bound.
The latent space is z = f(x): `encode` maps x (images: every pixel at the centre of its
bin, u = 1/2, so encode is a bijection of [0, 1]^D) and `decode` is f^-1, clipped to [0, 1]
for images; `sample` decodes z ~ N(0, I). Codes are flat [B, D], D = x's size.
"""
from __future__ import annotations

import dataclasses
import difflib
import math

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
from genjax.models import common, config_rules
from genjax.nets.coupling import CouplingFlow

_LOG_2PI = math.log(2 * math.pi)
# config.model keys of this family (model.levels is optional, read for images only)
_KEYS = ("family", "widths", "num_couplings", "logit_alpha", "levels")


@dataclasses.dataclass(frozen=True)
class Flow:
  """A coupling-flow family; build it with `Flow.from_config(config, info)`."""
  net: nn.Module
  x_shape: tuple[int, ...]
  optimizer: optax.GradientTransformation
  levels: int = 0  # images: pixel values k / levels; 0 for continuous vectors
  logit_alpha: float = 0.05
  micro_batches: int = 1  # train.grad_accum_steps: the NLL is a mean over examples
  precision: str = "float32"  # train.precision: what the couplings' MLPs compute in

  @classmethod
  def config_rules(cls) -> dict:
    """Every config key this family reads beyond the generic sections (checked in
    `check_model_config`, where the messages name the flow's own keys)."""
    shared = ("model.family", "hparams.beta", "hparams.ema_decay")
    return {**{k: config_rules.BASE[k] for k in shared}, **config_rules.LEVELS,
            **config_rules.known(*(f"model.{k}" for k in _KEYS[1:-1]))}

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, info: DatasetInfo) -> "Flow":
    """The family for `info`'s data; refuses a bad model key in one ConfigError line."""
    m = config.model
    check_model_config(m)
    image = info.kind == "image"
    precision = common.precision(config)
    # Not common.apply_net: only the conditioning MLPs leave float32 (nets/coupling.py), so
    # the bijection and its log-determinants keep float32 precision.
    compute = None if precision == "float32" else common.COMPUTE_DTYPES[precision]
    return cls(net=CouplingFlow(int(m.num_couplings), tuple(m.widths), compute),
               x_shape=tuple(info.x_shape),
               optimizer=make_optimizer(config.optim, config.train.num_steps),
               levels=int(gconfig.optional(config, "model.levels")) if image else 0,
               logit_alpha=float(m.logit_alpha), micro_batches=common.micro_batches(config),
               precision=precision)

  @property
  def latent_dim(self) -> int:
    return math.prod(self.x_shape)

  def init(self, rng: jax.Array, batch: dict, hp: dict) -> TrainState:
    del hp
    y_BD = jnp.zeros((1, self.latent_dim), jnp.float32)
    return common.new_state({"flow": self.net.init(rng, y_BD)["params"]}, self.optimizer)

  # --- capabilities used by evaluators and figures ------------------------------------

  def log_prob_bound(self, state: TrainState, batch: dict, rng: jax.Array) -> jax.Array:
    """-log p(x) per example [B] in nats: exact for vectors, the dequantised bound on the
    L + 1 levels for images (one u draw; module docstring)."""
    return self._nll(state.params, batch["x"], rng)

  def encode(self, state: TrainState, x_BX: jax.Array) -> jax.Array:
    """z = f(x) [B, D] (images: bin centres, u = 1/2)."""
    v_BD = self._flat(x_BX)
    if self.levels:
      v_BD = (v_BD * self.levels + 0.5) / (self.levels + 1)
    return self.net.apply({"params": state.params["flow"]}, self._to_flow(v_BD)[0])[0]

  def decode(self, state: TrainState, z_BD: jax.Array) -> jax.Array:
    """x = f^-1(z), shaped like x (images: the bin-centre inverse of encode, in [0, 1])."""
    y_BD = self.net.apply({"params": state.params["flow"]}, z_BD, inverse=True)[0]
    if self.levels:
      v_BD = (jax.nn.sigmoid(y_BD) - self.logit_alpha) / (1 - 2 * self.logit_alpha)
      y_BD = jnp.clip((v_BD * (self.levels + 1) - 0.5) / self.levels, 0.0, 1.0)
    return y_BD.reshape((-1,) + self.x_shape)

  def sample(self, state: TrainState, rng: jax.Array, num: int, hp: dict, cond=None) -> jax.Array:
    """f^-1(z) for z ~ N(0, I), shaped like x."""
    del hp, cond
    return self.decode(state, jax.random.normal(rng, (num, self.latent_dim)))

  # --- training and evaluation --------------------------------------------------------

  def train_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict):
    def loss_fn(params, batch, rng, hp):
      del hp
      nll_B = self._nll(params, batch["x"], rng)
      loss = nll_B.mean()
      return loss, {"loss": loss, "bits_per_dim": loss / (self.latent_dim * math.log(2))}
    return common.gradient_step(loss_fn, self.optimizer, state, batch, rng, hp,
                                self.micro_batches)

  def eval_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict) -> dict:
    """Per-example [B] -log p(x) bound in nats and bits/dim."""
    del hp
    nll_B = self.log_prob_bound(state, batch, rng)
    return {"nll": nll_B, "bits_per_dim": nll_B / (self.latent_dim * math.log(2))}

  def _flat(self, x_BX: jax.Array) -> jax.Array:
    return x_BX.reshape(x_BX.shape[0], -1).astype(jnp.float32)

  def _to_flow(self, v_BD: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Images: (logit(a + (1 - 2a) v), its log-det [B]); vectors pass unchanged."""
    if not self.levels:
      return v_BD, jnp.zeros(v_BD.shape[:1], v_BD.dtype)
    a = self.logit_alpha
    p_BD = a + (1 - 2 * a) * v_BD
    logdet_B = jnp.sum(math.log(1 - 2 * a) - jnp.log(p_BD) - jnp.log1p(-p_BD), -1)
    return jnp.log(p_BD) - jnp.log1p(-p_BD), logdet_B

  def _nll(self, params, x_BX: jax.Array, rng: jax.Array) -> jax.Array:
    v_BD = self._flat(x_BX)
    discrete_B = 0.0
    if self.levels:
      counts_BD = jnp.round(v_BD * self.levels)
      v_BD = (counts_BD + jax.random.uniform(rng, v_BD.shape)) / (self.levels + 1)
      discrete_B = self.latent_dim * math.log(self.levels + 1)
    y_BD, ld_pre_B = self._to_flow(v_BD)
    z_BD, ld_flow_B = self.net.apply({"params": params["flow"]}, y_BD)
    log_pz_B = -0.5 * jnp.sum(z_BD**2 + _LOG_2PI, -1)
    return -(log_pz_B + ld_flow_B + ld_pre_B) + discrete_B


def check_model_config(m: ml_collections.ConfigDict) -> None:
  """Refuses unknown or out-of-range config.model keys of the flow, one line each."""
  for key in m:
    if key not in _KEYS:
      close = difflib.get_close_matches(key, _KEYS, n=1)
      hint = f" (did you mean 'model.{close[0]}'?)" if close else ""
      raise ConfigError(f"config.model.{key} is not a key of the flow family{hint}; it takes "
                        f"model.{', model.'.join(_KEYS[1:])}")
  for key in ("widths", "num_couplings", "logit_alpha"):
    if key not in m:
      raise ConfigError(f"the flow family needs config.model.{key}; configs/flow.py sets it")
  if not (m.widths and all(isinstance(w, int) and w > 0 for w in m.widths)):
    raise ConfigError(f"config.model.widths={m.widths!r} must be positive integers, "
                      "e.g. (128, 128)")
  if not (isinstance(m.num_couplings, int) and m.num_couplings > 0):
    raise ConfigError(f"config.model.num_couplings={m.num_couplings!r} must be a positive integer")
  if not 0 <= m.logit_alpha < 0.5:
    raise ConfigError(f"config.model.logit_alpha={m.logit_alpha!r} must be in [0, 0.5)")
