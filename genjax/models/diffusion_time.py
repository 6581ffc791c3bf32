"""The continuous-time VP diffusion that passes through a discrete schedule's knots exactly.

The probability-flow ODE needs alpha_bar at every noise level, the network only saw the
T integer indices of `diffusion_schedule`. We interpolate the half log noise-to-signal
ratio s = log(sigma / alpha) = 0.5 log((1 - alpha_bar) / alpha_bar) (s = -lambda / 2 in
DPM-Solver's notation) linearly between the knots, and use s as the ODE's time:

- knots: the network's index tau = i (the paper's step i + 1) has s_i from alpha_bar_i, so
  every discrete marginal q(x_i | x_0) is met exactly; in continuous time t = (tau + 1) / T
  the knots sit at t = 1 / T, ..., 1 and the clean data at t = 0.
- below the first knot (tau in (-1, 0), never seen in discrete training) the noise-to-signal
  ratio falls linearly to 0: exp(2 s) = exp(2 s_0) (tau + 1), i.e. sigma^2 ~ beta(0) t as
  t -> 0, which is the VP-SDE's own behaviour near the data.
- alpha_bar(t) = sigmoid(-2 s(t)), and beta(t) = -d log alpha_bar / dt = 2 sigma^2(t) ds/dt;
  between knots i - 1 and i this is T (1 - alpha_bar) (s_i - s_{i-1}) * 2 ~ T beta_i. For the
  default linear schedule (beta 1e-4 .. 0.02 over T = 1000) beta(t) runs from 0.1 to 20:
  score_sde's VPSDE(beta_min=0.1, beta_max=20) (Song et al. 2021, sde_lib.py), which
  discretises to our betas to first order; here the discrete marginals are exact instead.

A network evaluated at the fractional index tau(s) is the model's epsilon at noise level s;
a model trained with `model.time='continuous'` has seen such fractional indices, down to
`t_min`. With s as time the probability-flow ODE is, in x (data units),
  dx/ds = sigma(s) (eps(x, tau(s)) - sigma(s) x),
and in x_bar = x / alpha with sigma_bar = exp(s) it is dx_bar/dsigma_bar = eps (DDIM's ODE,
Song et al. 2021a eq. 14): what the fixed-step samplers integrate.
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from genjax.models.diffusion_schedule import Schedule

DEFAULT_T_MIN = 1e-5  # score_sde's likelihood and sampling end point (continuous t)


@dataclasses.dataclass(frozen=True, eq=False)
class ContinuousVP:
  """The continuous-time schedule through a discrete `Schedule`'s knots.

  Attributes:
    log_snr_half_T: s_i = log(sigma_i / alpha_i) at the T knots, float64 increasing [T].
  """
  log_snr_half_T: np.ndarray

  @classmethod
  def from_schedule(cls, schedule: Schedule) -> "ContinuousVP":
    ab = schedule.alpha_bars
    s = 0.5 * (np.log1p(-ab) - np.log(ab))
    if np.any(np.diff(s) <= 0):
      raise ValueError("the schedule's noise levels must increase strictly with the step")
    return cls(log_snr_half_T=s)

  @property
  def num_steps(self) -> int:
    return len(self.log_snr_half_T)

  @property
  def s_max(self) -> float:
    """s at the last knot: where sampling starts from the N(0, I) prior."""
    return float(self.log_snr_half_T[-1])

  def s_of_t(self, t: float) -> float:
    """s at continuous time t in (0, 1] (t = (tau + 1) / T), a Python float (static)."""
    tau, knots = t * self.num_steps - 1.0, self.log_snr_half_T
    if tau >= 0:
      return float(np.interp(tau, np.arange(self.num_steps), knots))
    return float(knots[0] + 0.5 * math.log(tau + 1.0))

  # --- tau (the network's fractional index) <-> s ---------------------------------

  def s_of_tau(self, tau: jax.Array) -> jax.Array:
    """s at fractional index tau > -1 (knots exact, linear between, see module doc)."""
    knots = jnp.asarray(self.log_snr_half_T, jnp.float32)
    inside = jnp.interp(tau, jnp.arange(self.num_steps, dtype=jnp.float32), knots)
    below = knots[0] + 0.5 * jnp.log(jnp.maximum(tau + 1.0, 1e-30))
    return jnp.where(tau >= 0, inside, below)

  def tau_of_s(self, s: jax.Array) -> jax.Array:
    """The fractional index tau whose noise level is s (inverse of `s_of_tau`)."""
    knots = jnp.asarray(self.log_snr_half_T, jnp.float32)
    inside = jnp.interp(s, knots, jnp.arange(self.num_steps, dtype=jnp.float32))
    below = jnp.expm1(2.0 * (jnp.minimum(s, knots[0]) - knots[0]))
    return jnp.where(s >= knots[0], inside, below)

  # --- alpha, sigma at s (float32, any shape) -----------------------------------------

  @staticmethod
  def alpha(s: jax.Array) -> jax.Array:
    """sqrt(alpha_bar) = sqrt(sigmoid(-2 s))."""
    return jnp.sqrt(jax.nn.sigmoid(-2.0 * s))

  @staticmethod
  def sigma(s: jax.Array) -> jax.Array:
    """sqrt(1 - alpha_bar) = sqrt(sigmoid(2 s))."""
    return jnp.sqrt(jax.nn.sigmoid(2.0 * s))

  def alpha_bar_of_t(self, t: jax.Array) -> jax.Array:
    """alpha_bar(t) for continuous t in (0, 1]."""
    return jax.nn.sigmoid(-2.0 * self.s_of_tau(t * self.num_steps - 1.0))

  def beta_of_t(self, t: jax.Array) -> jax.Array:
    """beta(t) = -d log alpha_bar / dt (the VP-SDE's drift rate), by autodiff of alpha_bar."""
    return -jax.vmap(jax.grad(lambda u: jnp.log(self.alpha_bar_of_t(u))))(jnp.ravel(t)).reshape(
        jnp.shape(t))

  # --- training at continuous noise levels --------------------------------------------

  def sample_tau(self, rng: jax.Array, num: int, t_min: float) -> jax.Array:
    """[num] fractional indices for continuous-time training.

    Half uniform over the knots' range [0, T - 1] (what discrete training sees, now at
    fractional indices), half log-uniform in sigma/alpha below the first knot, down to
    continuous time `t_min`: the data's fine scale, where the likelihood is decided and
    uniform t would put only 1 / T of the draws.
    """
    k_pick, k_in, k_low = jax.random.split(rng, 3)
    inside = jax.random.uniform(k_in, (num,), maxval=self.num_steps - 1.0)
    s_lo, s_0 = self.s_of_t(t_min), float(self.log_snr_half_T[0])
    low = self.tau_of_s(jax.random.uniform(k_low, (num,), minval=s_lo, maxval=s_0))
    return jnp.where(jax.random.bernoulli(k_pick, 0.5, (num,)), inside, low)


def expand(v_B: jax.Array, ndim: int) -> jax.Array:
  """[B] -> [B, 1, ..., 1] broadcasting against a rank-`ndim` batch."""
  return v_B.reshape(v_B.shape + (1,) * (ndim - v_B.ndim))


def bins_to_nats(num_dims: int, levels: int) -> float:
  """log of the Jacobian from model space [-1, 1] to the integer grid 0..levels, all dims.

  A value k / levels sits at -1 + 2 k / levels; a unit-width bin of the integer scale is
  2 / levels wide in model space, so log p_int = log p_model + D log(2 / levels).
  """
  return num_dims * math.log(2.0 / levels)
