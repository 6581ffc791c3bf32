"""The diffusion family (DDPM): the simplified loss, DDPM/DDIM sampling, guidance, the exact bound.

Training (Ho et al. 2020): draw t uniformly, noise x_0 in closed form, regress the network
onto eps (or onto v = sqrt(ab) eps - sqrt(1 - ab) x_0 with model.prediction='v'; Salimans
& Ho 2022) with the unweighted mean squared error. Conditional models drop labels with
probability model.label_dropout so that one network also learns the unconditional
prediction that classifier-free guidance needs. An exponential moving average of the
parameters (hp['ema_decay'], traced; the rule of models/common.py that every family
shares) lives in state.ema and is what sampling, evaluation and the bound use. Reverse-process variances (model.variance) are fixed ('posterior':
beta_tilde_t, 'beta': beta_t) or 'analytic' (Bao et al. 2022): the optimal isotropic
variance given the noise predictor, from running per-step means of ||eps_hat||^2 / d that
the train step keeps in state.extra (same decay as the EMA, no extra network calls).

Data conventions: toy2d points are modelled as they are (continuous data; the decoder
p(x_0 | x_1) is a Gaussian density, so the bound is on -log p(x) of the density, directly
comparable with the mixture's exact log-density). Images in [0, 1] are rounded to the
grid k / model.levels, k = 0..levels (default 255: 8-bit, 256 values; digits: 16) and mapped
to [-1, 1]; the decoder is the discretised Gaussian of Ho et al. (2020) on the same levels,
so the bound is on -log P(x) of the quantised image, a probability, with no dequantisation
noise added (bits/dim = nats / (D ln 2)).

The probability-flow ODE of the same network (diffusion_time, diffusion_ode) gives exact
likelihoods (`ode_nll`, uniformly dequantised images), a deterministic data <-> noise map
(`ode_encode` / `ode_decode`) and the samplers 'ode' (adaptive) and 'euler' / 'heun' /
'dpmpp2m' (diffusion_fast); model.time='continuous' trains at fractional indices.

train.precision='bfloat16' runs the network in bfloat16 (`common.apply_net`) in training,
the bound and the fixed-step samplers; the schedule, its alphas and every loss stay
float32, and the adaptive ODE solver's paths evaluate the network in float32.
"""
from __future__ import annotations

import dataclasses
import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from genjax import config as gconfig
from genjax.core.dataset import DatasetInfo
from genjax.core.optim import make_optimizer
from genjax.core.state import TrainState
from genjax.errors import ConfigError
from genjax.models import common, config_rules
from genjax.models import diffusion_fast as fast
from genjax.models import diffusion_ode as ode
from genjax.models import diffusion_samplers as samplers
from genjax.models.diffusion_schedule import PREDICTIONS, VARIANCES, Schedule, gather
from genjax.models.diffusion_time import ContinuousVP, bins_to_nats, expand
from genjax.nets.diffusion_unet import TimeMLP, UNet

_8BIT = 255  # model.levels' default: 256 values, bins of width 2 / 255 on [-1, 1]
_INVERT_REFINE = 3  # fixed-point iterations per inversion step: round trips exact to ~1e-4
ALL_SAMPLERS = samplers.SAMPLERS + ("ode",) + fast.FAST_SAMPLERS
TIMES = ("discrete", "continuous")


# ======================================================================================
# The variational bound, term by term
# ======================================================================================

def gaussian_decoder_nll(x0, mean, var):
  """-log N(x_0; mean, var I) per example in nats (continuous data), [B]."""
  b = x0.shape[0]
  sq, var = ((x0 - mean) ** 2).reshape(b, -1), var.reshape(b, -1)
  return jnp.sum(0.5 * sq / var + 0.5 * jnp.log(2 * math.pi * var), -1)


def discretized_decoder_nll(x0, mean, var, levels: int = _8BIT):
  """-log P(x_0) per example for data on the grid of `levels` + 1 values on [-1, 1], [B].

  Ho et al. (2020), eq. 13, with 8-bit data the default: each value owns the bin
  x +- 1/levels of N(mean, var); the end bins extend to -inf and +inf so the levels + 1
  probabilities sum to one.
  """
  b = x0.shape[0]
  inv_std = jax.lax.rsqrt(var)
  half_bin = 1.0 / float(levels)
  upper = (x0 + half_bin - mean) * inv_std
  lower = (x0 - half_bin - mean) * inv_std
  log_cdf_upper = jax.scipy.special.log_ndtr(upper)
  log_sf_lower = jax.scipy.special.log_ndtr(-lower)
  # Phi(u) - Phi(l) from whichever tail keeps precision (both tails are tiny far away)
  left = log_cdf_upper + jnp.log1p(-jnp.exp(jnp.minimum(
      jax.scipy.special.log_ndtr(lower) - log_cdf_upper, -1e-12)))
  right = log_sf_lower + jnp.log1p(-jnp.exp(jnp.minimum(
      jax.scipy.special.log_ndtr(-upper) - log_sf_lower, -1e-12)))
  log_mid = jnp.where(lower > 0, right, left)
  # end values by half a bin: the same grid points as any smaller margin, for any levels
  log_p = jnp.where(x0 < -1.0 + half_bin, log_cdf_upper,
                    jnp.where(x0 > 1.0 - half_bin, log_sf_lower, log_mid))
  return -jnp.sum(log_p.reshape(b, -1), -1)


def vlb_terms(schedule: Schedule, eps_fn, x0: jax.Array, rng: jax.Array, variances_T,
              decoder_nll, chunk: int) -> dict[str, jax.Array]:
  """All terms of the bound -log p(x_0) <= L_T + sum_{t=2}^T L_{t-1} + L_0, each [B] nats.

  L_T = KL(q(x_T | x_0) || N(0, I)) in closed form; L_{t-1} = KL(q(x_{t-1} | x_t, x_0) ||
  p(x_{t-1} | x_t)) for one draw of x_t per step; L_0 = -log p(x_0 | x_1). Every one of the
  T steps is evaluated (no sampling of t); `lax.map` runs `chunk` steps at a time, so
  memory holds chunk x B examples, not T x B.

  Args:
    schedule: the diffusion schedule.
    eps_fn: (x_t, t_B) -> eps prediction.
    x0: [B, ...] data in the model's space.
    rng: key; step t draws its x_t from fold_in(rng, t).
    variances_T: reverse-process variances [T].
    decoder_nll: (x0, mean, var) -> [B], the L_0 term.
    chunk: steps evaluated together.

  Returns:
    {'prior': L_T, 'diffusion': sum of the T - 1 KL terms, 'decoder': L_0}.
  """
  var_T = jnp.asarray(variances_T, jnp.float32)
  b, ndim = x0.shape[0], x0.ndim

  def term(t):
    t_B = jnp.full((b,), t)
    noise = jax.random.normal(jax.random.fold_in(rng, t), x0.shape)
    x_t = schedule.q_sample(x0, t_B, noise)
    mean_error = gather(schedule.eps_mean_coefs, t_B, ndim) * (eps_fn(x_t, t_B) - noise)
    var_p = gather(var_T, t_B, ndim)
    first = t == 0
    var_q = jnp.where(first, var_p, gather(schedule.posterior_variances, t_B, ndim))
    kl = 0.5 * (jnp.log(var_p / var_q) + var_q / var_p - 1.0 + mean_error**2 / var_p)
    kl = jnp.sum(kl.reshape(b, -1), -1)
    # at the first step the posterior mean is the predicted x_0 itself
    return jnp.where(first, decoder_nll(x0, x0 - mean_error, var_p), kl)

  per_step_TB = jax.lax.map(term, jnp.arange(schedule.num_steps), batch_size=chunk)
  return {"prior": schedule.prior_kl(x0), "diffusion": per_step_TB[1:].sum(0),
          "decoder": per_step_TB[0]}


# ======================================================================================
# The family
# ======================================================================================

@dataclasses.dataclass(frozen=True)
class Diffusion:
  """A (conditional) DDPM family; build it with `Diffusion.from_config(config, info)`."""
  net: nn.Module
  schedule: Schedule
  prediction: str
  variance: str
  sampler: str
  sample_steps: int
  eta: float
  num_classes: int
  label_dropout: float
  image: bool
  x_shape: tuple[int, ...]
  nll_chunk: int
  optimizer: optax.GradientTransformation
  levels: int = _8BIT  # images: values k / levels (model.levels), in training and the bound
  micro_batches: int = 1  # train.grad_accum_steps
  # the probability-flow ODE (diffusion_ode): data end and solver tolerances
  time: str = "discrete"  # 'continuous': train at fractional indices down to t_min
  t_min: float = 1e-5
  ode_rtol: float = 1e-5
  ode_atol: float = 1e-5
  dequantize: bool = False  # images: train on uniformly dequantised values (see ode_nll)
  # euler / heun / dpmpp2m: the grid of levels and dpmpp2m's final step (diffusion_fast)
  fast_spacing: str = "karras"
  fast_t_end: float = 0.0  # 0: the grid ends at the first knot
  fast_lower_order_final: bool = False
  precision: str = "float32"  # train.precision: what the network computes in (common.apply_net)

  @classmethod
  def config_rules(cls) -> dict:
    """Every config key this family reads beyond the generic sections, with its rule."""
    return {**config_rules.BASE, **config_rules.LEVELS, **config_rules.known(
        "model.timesteps", "model.schedule", "model.prediction", "model.variance",
        "model.sampler", "model.sample_steps", "model.eta", "model.nll_chunk",
        "model.conditional", "model.label_dropout", "model.channel_mults",
        "model.num_res_blocks", "model.time", "model.t_min", "model.ode_rtol",
        "model.ode_atol", "model.dequantize", "model.fast_spacing", "model.fast_t_end",
        "model.fast_lower_order_final", "hparams.guidance")}

  @classmethod
  def from_config(cls, config: ml_collections.ConfigDict, info: DatasetInfo) -> "Diffusion":
    m = config.model
    schedule = Schedule.make(m.schedule, m.timesteps)
    _check(m, config.hparams, info)
    _check_ode(config)
    num_classes = info.num_classes if m.conditional else 0
    if m.net == "conv":
      net = UNet(m.channels, tuple(m.channel_mults), m.num_res_blocks, num_classes)
    else:
      net = TimeMLP(tuple(m.widths), num_classes)
    return cls(net=net, schedule=schedule, prediction=m.prediction, variance=m.variance,
               sampler=m.sampler, sample_steps=m.sample_steps, eta=float(m.eta),
               num_classes=num_classes, label_dropout=float(m.label_dropout),
               image=info.kind == "image", x_shape=tuple(info.x_shape),
               nll_chunk=m.nll_chunk,
               optimizer=make_optimizer(config.optim, config.train.num_steps),
               levels=int(gconfig.optional(config, "model.levels")),
               micro_batches=common.micro_batches(config),
               time=str(gconfig.optional(config, "model.time")),
               t_min=float(gconfig.optional(config, "model.t_min")),
               ode_rtol=float(gconfig.optional(config, "model.ode_rtol")),
               ode_atol=float(gconfig.optional(config, "model.ode_atol")),
               dequantize=bool(gconfig.optional(config, "model.dequantize")),
               fast_spacing=str(gconfig.optional(config, "model.fast_spacing")),
               fast_t_end=float(gconfig.optional(config, "model.fast_t_end")),
               fast_lower_order_final=bool(
                   gconfig.optional(config, "model.fast_lower_order_final")),
               precision=common.precision(config))

  @functools.cached_property
  def vp(self) -> ContinuousVP:
    """The continuous-time schedule through this schedule's knots (diffusion_time)."""
    return ContinuousVP.from_schedule(self.schedule)

  def init(self, rng: jax.Array, batch: dict, hp: dict) -> TrainState:
    del hp
    x = self._to_model(batch["x"][:1])
    label = jnp.zeros((1,), jnp.int32) if self.num_classes else None
    params = {"net": self.net.init(rng, x, jnp.zeros((1,), jnp.int32), label)["params"]}
    extra = {}
    if self.variance == "analytic":
      extra = {"eps_sq_sum": jnp.zeros((self.schedule.num_steps,), jnp.float32),
               "eps_sq_count": jnp.zeros((self.schedule.num_steps,), jnp.float32)}
    state = common.new_state(params, self.optimizer, extra)
    return state.replace(ema=jax.tree.map(jnp.copy, params))

  # --- training and evaluation --------------------------------------------------------

  def train_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict):
    state, metrics = common.gradient_step(self._loss, self.optimizer, state, batch, rng, hp,
                                          self.micro_batches)
    eps_sq_B, t_B = metrics.pop("eps_sq_B"), metrics.pop("t_B")
    decay = common.ema_decay(hp, state.step)
    ema = common.ema_update(state.ema, state.params, decay)
    extra = state.extra
    if self.variance == "analytic":  # per-step running means of ||eps_hat||^2 / d
      count = jax.ops.segment_sum(jnp.ones_like(eps_sq_B), t_B, self.schedule.num_steps)
      total = jax.ops.segment_sum(eps_sq_B, t_B, self.schedule.num_steps)
      extra = {"eps_sq_sum": decay * extra["eps_sq_sum"] + total,
               "eps_sq_count": decay * extra["eps_sq_count"] + count}
    return state.replace(ema=ema, extra=extra), metrics

  def eval_step(self, state: TrainState, batch: dict, rng: jax.Array, hp: dict) -> dict:
    """The simplified loss per example [B] at one uniform t, with the averaged parameters."""
    del hp
    x0 = self._to_model(batch["x"])
    loss_B, _, _ = self._simple_loss(state.ema, x0, self._labels_of(batch), rng)
    return {"loss": loss_B}

  def _loss(self, params, batch, rng, hp):
    del hp
    k_loss, k_drop = jax.random.split(rng)
    labels = self._labels_of(batch)
    if self.num_classes and self.label_dropout:
      drop = jax.random.bernoulli(k_drop, self.label_dropout, labels.shape)
      labels = jnp.where(drop, self.num_classes, labels)
    x0 = self._to_model(batch["x"])
    if self.image and self.dequantize:  # split only here: other runs keep their streams
      k_loss, k_deq = jax.random.split(k_loss)
      x0 = self._dequantize(x0, k_deq)
    loss_B, eps_hat, t_B = self._simple_loss(params, x0, labels, k_loss)
    loss = loss_B.mean()
    eps_sq_B = jax.lax.stop_gradient(jnp.mean(eps_hat.reshape(eps_hat.shape[0], -1) ** 2, -1))
    return loss, {"loss": loss, "eps_sq_B": eps_sq_B, "t_B": t_B}

  def _simple_loss(self, params, x0, labels, rng):
    k_t, k_eps = jax.random.split(rng)
    b = x0.shape[0]
    noise = jax.random.normal(k_eps, x0.shape)
    if self.time == "continuous":  # eps prediction at fractional indices (diffusion_time)
      tau_B = self.vp.sample_tau(k_t, b, self.t_min)
      s = expand(self.vp.s_of_tau(tau_B), x0.ndim)
      out = self._net(params, self.vp.alpha(s) * x0 + self.vp.sigma(s) * noise, tau_B, labels)
      loss_B = jnp.mean(((out - noise) ** 2).reshape(b, -1), -1)
      return loss_B, out, jnp.zeros((b,), jnp.int32)
    t_B = jax.random.randint(k_t, (b,), 0, self.schedule.num_steps)
    x_t = self.schedule.q_sample(x0, t_B, noise)
    out = self._net(params, x_t, t_B, labels)
    target = self.schedule.target(x0, t_B, noise, self.prediction)
    loss_B = jnp.mean(((out - target) ** 2).reshape(b, -1), -1)
    return loss_B, self.schedule.eps_from_output(out, x_t, t_B, self.prediction), t_B

  # --- sampling -----------------------------------------------------------------------

  def sample(self, state: TrainState, rng: jax.Array, num: int, hp: dict, cond=None) -> jax.Array:
    """`num` samples from the averaged model with config.model's sampler and step count.

    Conditional models draw labels `cond` (default: cycling through the classes) with
    guidance scale hp['guidance'] (traced: a sweep over scales compiles once).
    """
    k_noise, k_chain = jax.random.split(rng)
    x_T = jax.random.normal(k_noise, (num,) + self.x_shape)
    labels = None
    if self.num_classes:
      labels = (jnp.arange(num, dtype=jnp.int32) % self.num_classes if cond is None
                else jnp.broadcast_to(jnp.asarray(cond, jnp.int32), (num,)))
    # the adaptive solver in float32 (see _ode_eps_fn)
    eps_of = self._ode_eps_fn if self.sampler == "ode" else self._eps_fn
    eps_fn = eps_of(state.ema, labels, hp.get("guidance", jnp.float32(0)))
    clip = 1.0 if self.image else None  # images live in [-1, 1]
    if self.sampler == "ode":
      x = ode.decode(self.vp, eps_fn, x_T, self.t_min, self.ode_rtol, self.ode_atol)
    elif self.sampler in fast.FAST_SAMPLERS:
      x = fast.sample(self.sampler, self.vp, eps_fn, x_T, self.sample_steps,
                      self.fast_spacing, self.fast_t_end or None, self.fast_lower_order_final)
    elif self.sampler == "ddpm":
      steps = samplers.timesteps(self.schedule.num_steps, self.sample_steps)
      x = samplers.ddpm_sample(self.schedule, eps_fn, x_T, k_chain,
                               self._variances(state, steps), steps, clip)
    else:
      x = samplers.ddim_sample(self.schedule, eps_fn, x_T, self.sample_steps, self.eta,
                               k_chain, clip)
    return self._from_model(x)

  def invert(self, state: TrainState, x: jax.Array, steps: int, cond=None,
             refine: int = _INVERT_REFINE) -> jax.Array:
    """Deterministic DDIM encoding of data x into noise x_T (unconditional unless cond).

    `refine` fixed-point iterations per step make `generate_from_noise` with the same
    `steps` an accurate inverse (see `diffusion_samplers.ddim_invert`).
    """
    eps_fn = self._eps_fn(state.ema, self._cond_or_null(x.shape[0], cond), None)
    return samplers.ddim_invert(self.schedule, eps_fn, self._to_model(x, quantize=False), steps,
                                refine)

  def generate_from_noise(self, state: TrainState, x_T: jax.Array, steps: int,
                          cond=None) -> jax.Array:
    """Deterministic DDIM decoding of x_T (eta = 0, no clipping: `invert`'s inverse)."""
    eps_fn = self._eps_fn(state.ema, self._cond_or_null(x_T.shape[0], cond), None)
    return self._from_model(samplers.ddim_sample(self.schedule, eps_fn, x_T, steps))

  # --- the likelihood bound -----------------------------------------------------------

  def log_prob_bound(self, state: TrainState, batch: dict, rng: jax.Array) -> jax.Array:
    """The variational bound on -log p(x) per example [B] in nats (all T terms summed).

    Conditional models bound -log p(x | label) with the conditional prediction.
    """
    terms = self.bound_terms(state, batch, rng)
    return terms["prior"] + terms["diffusion"] + terms["decoder"]

  def bound_terms(self, state: TrainState, batch: dict, rng: jax.Array) -> dict:
    """The bound's prior, diffusion (sum of KLs) and decoder terms, each [B] nats."""
    eps_fn = self._eps_fn(state.ema, self._labels_of(batch), None)
    decoder = (functools.partial(discretized_decoder_nll, levels=self.levels) if self.image
               else gaussian_decoder_nll)
    return vlb_terms(self.schedule, eps_fn, self._to_model(batch["x"]), rng,
                     self._variances(state), decoder, self.nll_chunk)

  # --- the probability-flow ODE (diffusion_ode) ----------------------------------------

  def ode_nll(self, state: TrainState, batch: dict, rng: jax.Array, divergence: str = "auto",
              probe: str = "rademacher", rtol: float | None = None, atol: float | None = None,
              conditional: bool = False) -> dict:
    """-log p(x) per example under the probability-flow ODE, {'nll': [B] nats, 'steps': [B]}.

    Points: the density of x itself (at t_min, see diffusion_ode). Images: uniform
    dequantisation of the grid k / levels, y = k + u with u ~ U[-1/2, 1/2) (each value's bin
    centred on it, 2 / levels wide in model space), and -log p of y on the integer scale
    [0, levels + 1)^D, an upper bound on the discrete -log P(k) (Theis et al. 2016): for
    8-bit data score_sde's [0, 256) scale. Conditional models use the null label (p(x))
    unless `conditional` (p(x | label)).
    """
    k_deq, k_probe = jax.random.split(rng)
    x0 = self._to_model(batch["x"])
    jacobian = 0.0
    if self.image:
      x0 = self._dequantize(x0, k_deq)
      jacobian = bins_to_nats(math.prod(self.x_shape), self.levels)
    labels = (self._labels_of(batch) if conditional
              else self._cond_or_null(x0.shape[0], None))
    out = ode.log_likelihood(
        self.vp, self._ode_eps_fn(state.ema, labels, None), x0, k_probe, t_min=self.t_min,
        rtol=rtol or self.ode_rtol, atol=atol or self.ode_atol, divergence=divergence,
        probe=probe)
    return {"nll": -(out["log_p_B"] + jacobian), "steps": out["steps_B"]}

  def ode_encode(self, state: TrainState, x: jax.Array, cond=None) -> jax.Array:
    """Data -> noise along the probability-flow ODE (adaptive solver), model space."""
    eps_fn = self._ode_eps_fn(state.ema, self._cond_or_null(x.shape[0], cond), None)
    return ode.encode(self.vp, eps_fn, self._to_model(x, quantize=False), self.t_min,
                      self.ode_rtol, self.ode_atol)

  def ode_decode(self, state: TrainState, z: jax.Array, cond=None) -> jax.Array:
    """Noise -> data along the probability-flow ODE: `ode_encode`'s inverse."""
    eps_fn = self._ode_eps_fn(state.ema, self._cond_or_null(z.shape[0], cond), None)
    return self._from_model(ode.decode(self.vp, eps_fn, z, self.t_min, self.ode_rtol,
                                       self.ode_atol))

  # --- helpers ------------------------------------------------------------------------

  def _dequantize(self, x_model: jax.Array, rng: jax.Array) -> jax.Array:
    """Grid values plus uniform noise over their bin, 2 / levels wide in model space."""
    u = jax.random.uniform(rng, x_model.shape, minval=-0.5, maxval=0.5)
    return x_model + 2.0 * u / float(self.levels)


  def _net(self, params, x, t_B, labels, precision: str | None = None):
    """The network's output in float32, computed in `precision` (default train.precision).

    Timesteps go in by keyword, so `common.apply_net` leaves them float32: the sinusoidal
    embedding needs the exact index, and the network casts its features itself.
    """
    return common.apply_net(precision or self.precision, self.net, params["net"], x,
                            t_B=t_B, label_B=labels)

  def _ode_eps_fn(self, params, labels, guidance):
    """`_eps_fn` with the network in float32 whatever train.precision: an adaptive solver
    reads bfloat16's rounding of eps (relative 2^-8) as local error far above its
    tolerances (1e-5) and shrinks its steps (ring8's likelihood: 26 steps -> about 400),
    and the exact likelihood's divergence, a derivative of eps, is that rounding's slope."""
    return self._eps_fn(params, labels, guidance, "float32")

  def _eps_fn(self, params, labels, guidance, precision: str | None = None):
    """(x_t, t_B) -> eps; with labels and a guidance scale, the guided combination."""
    def apply(x, t, lab):
      out = self._net(params, x, t, lab, precision)
      if self.prediction == "v" and not jnp.issubdtype(t.dtype, jnp.integer):
        s = expand(self.vp.s_of_tau(t), x.ndim)  # a fractional index: the continuous form
        return self.vp.sigma(s) * x + self.vp.alpha(s) * out
      return self.schedule.eps_from_output(out, x, t, self.prediction)

    if labels is None or guidance is None:
      return lambda x, t: apply(x, t, labels)

    def guided(x, t):
      both = apply(jnp.concatenate([x, x]), jnp.concatenate([t, t]),
                   jnp.concatenate([labels, jnp.full_like(labels, self.num_classes)]))
      eps_cond, eps_uncond = jnp.split(both, 2)
      return samplers.guided_eps(eps_cond, eps_uncond, guidance)
    return guided

  def _variances(self, state: TrainState, steps=None):
    """Reverse variances of the full chain, or of the chain respaced to `steps`."""
    chain = self.schedule
    idx = np.arange(chain.num_steps) if steps is None else np.asarray(steps)
    if len(idx) != chain.num_steps:
      chain = chain.respace(idx)
    if self.variance != "analytic":
      return chain.reverse_variances(self.variance)
    count = state.extra["eps_sq_count"][idx]
    gamma = state.extra["eps_sq_sum"][idx] / jnp.maximum(count, 1e-12)
    return chain.reverse_variances("analytic", gamma, count > 0)

  def _labels_of(self, batch):
    return batch["label"].astype(jnp.int32) if self.num_classes else None

  def _cond_or_null(self, num, cond):
    if not self.num_classes:
      return None
    if cond is None:
      return jnp.full((num,), self.num_classes, jnp.int32)
    return jnp.broadcast_to(jnp.asarray(cond, jnp.int32), (num,))

  def _to_model(self, x, quantize=True):
    if not self.image:
      return x
    if quantize:
      levels = float(self.levels)
      x = jnp.round(x * levels) / levels
    return 2.0 * x - 1.0

  def _from_model(self, x):
    return jnp.clip((x + 1.0) / 2.0, 0.0, 1.0) if self.image else x


def _check_ode(config: ml_collections.ConfigDict) -> None:
  """One ConfigError line per bad probability-flow ODE or continuous-time setting."""
  m = config.model
  time = gconfig.optional(config, "model.time")
  if time not in TIMES:
    raise ConfigError(f"config.model.time='{time}' is unknown; use one of {TIMES}")
  if time == "continuous" and (m.prediction != "eps" or m.variance == "analytic"):
    raise ConfigError("model.time='continuous' trains an eps prediction and keeps no per-step "
                      "statistics: set model.prediction='eps' and model.variance='posterior'")
  t_min = gconfig.optional(config, "model.t_min")
  if not 0.0 < t_min < 1.0 / m.timesteps:
    raise ConfigError(f"config.model.t_min={t_min} must be in (0, 1 / model.timesteps): "
                      "below the first step's noise level (default 1e-5)")
  spacing = gconfig.optional(config, "model.fast_spacing")
  if spacing not in fast.SPACINGS:
    raise ConfigError(f"config.model.fast_spacing='{spacing}' is unknown; use one of "
                      f"{fast.SPACINGS}")
  t_end = gconfig.optional(config, "model.fast_t_end")
  if not 0.0 <= t_end <= 1.0 / m.timesteps:
    raise ConfigError(f"config.model.fast_t_end={t_end} must be in [0, 1 / model.timesteps] "
                      "(0: end the fast samplers' grid at the first knot)")
  for key in ("model.ode_rtol", "model.ode_atol"):
    if not gconfig.optional(config, key) > 0:
      raise ConfigError(f"config.{key}={gconfig.optional(config, key)} must be > 0 "
                        "(e.g. 1e-5)")


def _check(m, hparams, info: DatasetInfo) -> None:
  """One ConfigError line per bad diffusion setting, naming the fix."""
  if m.prediction not in PREDICTIONS:
    raise ConfigError(
        f"config.model.prediction='{m.prediction}' is unknown; use one of {PREDICTIONS}")
  if m.variance not in VARIANCES:
    raise ConfigError(f"config.model.variance='{m.variance}' is unknown; use one of {VARIANCES}")
  if m.sampler not in ALL_SAMPLERS:
    raise ConfigError(
        f"config.model.sampler='{m.sampler}' is unknown; use one of {ALL_SAMPLERS}")
  if not 1 <= m.sample_steps <= m.timesteps:
    raise ConfigError(f"config.model.sample_steps={m.sample_steps} must be in [1, model.timesteps="
                      f"{m.timesteps}]; lower sample_steps or raise timesteps")
  if not 0.0 <= m.eta <= 1.0:
    raise ConfigError(f"config.model.eta={m.eta} must be in [0, 1] (0: deterministic DDIM)")
  if not 0.0 <= m.label_dropout <= 1.0:
    raise ConfigError(
        f"config.model.label_dropout={m.label_dropout} must be a probability in [0, 1]")
  if hparams.get("guidance", 0.0) < 0:
    raise ConfigError(f"config.hparams.guidance={hparams.guidance} must be >= 0 "
                      "(0 = the conditional model, no guidance)")
  if m.nll_chunk < 1:
    raise ConfigError(f"config.model.nll_chunk={m.nll_chunk} must be a positive integer")
  if m.conditional and not info.num_classes:
    raise ConfigError(f"model.conditional=True needs labels, but '{info.name}' has none")
  if m.conditional and hparams.get("guidance", 0.0) > 0 and not m.label_dropout:
    raise ConfigError("hparams.guidance > 0 needs an unconditional prediction; set "
                      "model.label_dropout > 0 (e.g. 0.1) or hparams.guidance=0")
  if (m.net == "conv") != (info.kind == "image"):
    want = "'conv' (U-Net)" if info.kind == "image" else "'mlp'"
    raise ConfigError(f"config.model.net='{m.net}' does not fit {info.kind} data '{info.name}'; "
                      f"use model.net={want}")
  if m.net == "conv" and info.x_shape[0] % 2 ** (len(m.channel_mults) - 1):
    raise ConfigError(f"image side {info.x_shape[0]} must be divisible by 2**(levels - 1) for "
                      f"model.channel_mults={tuple(m.channel_mults)}; use fewer levels")
