"""The noise schedule of a diffusion model, kept apart from the networks (as in score_sde).

Index convention: an integer timestep `t` in [0, T) names the paper's step t + 1, so
`alpha_bars[0]` is alpha_bar_1 = 1 - beta_1 and `alpha_bars[T - 1]` is alpha_bar_T; the
clean data sit "before" index 0, where alpha_bar = 1. Networks receive this index.

The forward process (Ho et al. 2020) is q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t I),
with marginal q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I) and posterior
q(x_{t-1} | x_t, x_0) = N(c0_t x_0 + ct_t x_t, beta_tilde_t I). The schedule's arrays are
computed in float64 with numpy once and enter compiled code as float32 constants.
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from genjax.errors import ConfigError

SCHEDULES = ("linear", "cosine")
PREDICTIONS = ("eps", "v")
# Ho et al. (2020): beta from 1e-4 to 0.02 over T = 1000 steps; other T keep the same
# total amount of noise by scaling both ends by 1000 / T (Nichol & Dhariwal 2021).
_LINEAR_START, _LINEAR_END, _LINEAR_REF_STEPS = 1e-4, 0.02, 1000
# Nichol & Dhariwal (2021): offset s = 0.008 and betas clipped at 0.999 near t = T.
_COSINE_OFFSET, _MAX_BETA = 0.008, 0.999
VARIANCES = ("posterior", "beta", "analytic")
_MIN_GAMMA_GAP = 1e-3


def make_betas(kind: str, num_steps: int) -> np.ndarray:
  """beta_1..beta_T as float64 [T] for the 'linear' or 'cosine' schedule."""
  if kind not in SCHEDULES:
    raise ConfigError(f"config.model.schedule='{kind}' is unknown; use one of {SCHEDULES}")
  if num_steps < 1:
    raise ConfigError(f"config.model.timesteps={num_steps} must be a positive integer")
  if kind == "linear":
    scale = _LINEAR_REF_STEPS / num_steps
    betas = np.linspace(_LINEAR_START * scale, _LINEAR_END * scale, num_steps, dtype=np.float64)
  else:
    s = _COSINE_OFFSET
    f = np.cos((np.arange(num_steps + 1, dtype=np.float64) / num_steps + s) / (1 + s)
               * math.pi / 2) ** 2
    betas = 1.0 - f[1:] / f[:-1]
  return np.clip(betas, 0.0, _MAX_BETA)


def gather(values_T: np.ndarray, t_B: jax.Array, ndim: int) -> jax.Array:
  """values[t] as float32 [B, 1, ..., 1] that broadcasts against a [B, ...] array of rank ndim."""
  out = jnp.asarray(values_T, jnp.float32)[t_B]
  return out.reshape(out.shape + (1,) * (ndim - out.ndim))


@dataclasses.dataclass(frozen=True, eq=False)
class Schedule:
  """A discrete-time Gaussian diffusion schedule with its closed forms.

  Attributes:
    betas: beta_t, float64 [T].
    kind: 'linear' or 'cosine' (for display).
  """
  betas: np.ndarray
  kind: str = "linear"

  @classmethod
  def make(cls, kind: str, num_steps: int) -> "Schedule":
    return cls(betas=make_betas(kind, num_steps), kind=kind)

  # --- arrays (float64 numpy, [T]) ---------------------------------------------------

  @property
  def num_steps(self) -> int:
    return len(self.betas)

  @property
  def alphas(self) -> np.ndarray:
    return 1.0 - self.betas

  @property
  def alpha_bars(self) -> np.ndarray:
    return np.cumprod(self.alphas)

  @property
  def alpha_bars_prev(self) -> np.ndarray:
    """alpha_bar_{t-1}, with alpha_bar_0 = 1 for the clean data."""
    return np.concatenate([[1.0], self.alpha_bars[:-1]])

  @property
  def posterior_variances(self) -> np.ndarray:
    """beta_tilde_t = beta_t (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t); 0 at the first step."""
    return self.betas * (1.0 - self.alpha_bars_prev) / (1.0 - self.alpha_bars)

  @property
  def eps_mean_coefs(self) -> np.ndarray:
    """beta_t / sqrt(alpha_t (1 - alpha_bar_t)): the reverse mean's error per unit eps error.

    With the reverse mean built from a predicted eps, mu_q - mu_p = coef_t (eps_hat - eps)
    exactly; computing it this way avoids subtracting two nearly equal means.
    """
    return self.betas / np.sqrt(self.alphas * (1.0 - self.alpha_bars))

  def reverse_variances(self, kind: str, gamma_T=None, seen_T=None):
    """Variances [T] of the reverse steps p(x_{t-1} | x_t).

    'posterior' is beta_tilde_t and 'beta' is beta_t (Ho et al. 2020: beta_tilde is optimal
    for a single data point, beta for x_0 ~ N(0, I)); both use beta_1 at the first step,
    where beta_tilde_1 = 0 would make the decoder a delta. 'analytic' is the optimal
    isotropic variance given the noise predictor (Analytic-DPM, Bao et al. 2022):
    beta_tilde_t + beta_t^2 / (alpha_t (1 - alpha_bar_t)) * (1 - gamma_t), with
    gamma_t = E ||eps_theta(x_t, t)||^2 / d measured on training data; steps never measured
    (seen_T False) fall back to beta_t.

    Args:
      kind: 'posterior', 'beta' or 'analytic'.
      gamma_T: [T] mean squared noise prediction per dimension (for 'analytic').
      seen_T: [T] bool, where gamma_T was measured (for 'analytic').

    Returns:
      float64 numpy [T] for the fixed kinds, float32 jax [T] for 'analytic'.
    """
    if kind == "beta":
      return self.betas
    if kind == "posterior":
      return np.concatenate([self.betas[:1], self.posterior_variances[1:]])
    # gamma <= 1 for a posterior-mean predictor; the cap keeps the first step's variance,
    # beta_1 / alpha_1 * (1 - gamma_1), away from 0 while the estimate is noisy.
    gamma = jnp.clip(gamma_T, 0.0, 1.0 - _MIN_GAMMA_GAP)
    spread = jnp.asarray(self.betas**2 / (self.alphas * (1.0 - self.alpha_bars)), jnp.float32)
    var = jnp.asarray(self.posterior_variances, jnp.float32) + spread * (1.0 - gamma)
    return jnp.where(seen_T, var, jnp.asarray(self.betas, jnp.float32))

  def respace(self, timesteps_S: np.ndarray) -> "Schedule":
    """The chain that visits only `timesteps_S` (increasing indices into this schedule).

    Its betas, 1 - alpha_bar_{tau_k} / alpha_bar_{tau_{k-1}}, keep every marginal
    q(x_tau | x_0), so a network trained on this schedule serves it unchanged when called
    with the original indices (Nichol & Dhariwal 2021, section 4).
    """
    ab = self.alpha_bars[np.asarray(timesteps_S)]
    ab_prev = np.concatenate([[1.0], ab[:-1]])
    return Schedule(betas=1.0 - ab / ab_prev, kind=f"{self.kind}[{len(ab)}]")

  # --- the forward process -----------------------------------------------------------

  def q_sample(self, x0: jax.Array, t_B: jax.Array, noise: jax.Array) -> jax.Array:
    """A draw of x_t ~ q(x_t | x_0) = N(sqrt(ab_t) x_0, (1 - ab_t) I) given its noise."""
    ab = self.alpha_bars
    return (gather(np.sqrt(ab), t_B, x0.ndim) * x0
            + gather(np.sqrt(1.0 - ab), t_B, x0.ndim) * noise)

  def q_step(self, x_prev: jax.Array, t_B: jax.Array, noise: jax.Array) -> jax.Array:
    """One forward step x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) noise."""
    return (gather(np.sqrt(self.alphas), t_B, x_prev.ndim) * x_prev
            + gather(np.sqrt(self.betas), t_B, x_prev.ndim) * noise)

  def q_posterior(self, x0: jax.Array, xt: jax.Array, t_B: jax.Array):
    """Mean and variance of q(x_{t-1} | x_t, x_0) (Ho et al. 2020, eq. 7).

    Returns:
      (mean shaped like x0, variance [B, 1, ..., 1]).
    """
    ab, ab_prev = self.alpha_bars, self.alpha_bars_prev
    c0 = np.sqrt(ab_prev) * self.betas / (1.0 - ab)
    ct = np.sqrt(self.alphas) * (1.0 - ab_prev) / (1.0 - ab)
    n = xt.ndim
    mean = gather(c0, t_B, n) * x0 + gather(ct, t_B, n) * xt
    return mean, gather(self.posterior_variances, t_B, n)

  def prior_kl(self, x0: jax.Array) -> jax.Array:
    """KL(q(x_T | x_0) || N(0, I)) per example in nats, [B]."""
    ab_T = float(self.alpha_bars[-1])
    mean_sq = ab_T * x0.reshape(x0.shape[0], -1) ** 2
    var = 1.0 - ab_T
    return jnp.sum(0.5 * (mean_sq + var - 1.0 - math.log(var)), axis=-1)

  # --- conversions between what a network may predict -------------------------------

  def x0_from_eps(self, xt: jax.Array, t_B: jax.Array, eps: jax.Array) -> jax.Array:
    ab = self.alpha_bars
    return (xt - gather(np.sqrt(1.0 - ab), t_B, xt.ndim) * eps) / gather(
        np.sqrt(ab), t_B, xt.ndim)

  def eps_from_x0(self, xt: jax.Array, t_B: jax.Array, x0: jax.Array) -> jax.Array:
    ab = self.alpha_bars
    return (xt - gather(np.sqrt(ab), t_B, xt.ndim) * x0) / gather(
        np.sqrt(1.0 - ab), t_B, xt.ndim)

  def v_from_eps(self, x0: jax.Array, t_B: jax.Array, eps: jax.Array) -> jax.Array:
    """v = sqrt(ab_t) eps - sqrt(1 - ab_t) x_0 (Salimans & Ho 2022)."""
    ab = self.alpha_bars
    return (gather(np.sqrt(ab), t_B, x0.ndim) * eps
            - gather(np.sqrt(1.0 - ab), t_B, x0.ndim) * x0)

  def eps_from_v(self, xt: jax.Array, t_B: jax.Array, v: jax.Array) -> jax.Array:
    """eps = sqrt(1 - ab_t) x_t + sqrt(ab_t) v."""
    ab = self.alpha_bars
    return (gather(np.sqrt(1.0 - ab), t_B, xt.ndim) * xt
            + gather(np.sqrt(ab), t_B, xt.ndim) * v)

  def x0_from_v(self, xt: jax.Array, t_B: jax.Array, v: jax.Array) -> jax.Array:
    """x_0 = sqrt(ab_t) x_t - sqrt(1 - ab_t) v."""
    ab = self.alpha_bars
    return (gather(np.sqrt(ab), t_B, xt.ndim) * xt
            - gather(np.sqrt(1.0 - ab), t_B, xt.ndim) * v)

  def eps_from_output(self, out: jax.Array, xt: jax.Array, t_B: jax.Array,
                      prediction: str) -> jax.Array:
    """A network output read as `prediction` ('eps' or 'v'), converted to epsilon."""
    if prediction == "v":
      return self.eps_from_v(xt, t_B, out)
    return out

  def target(self, x0: jax.Array, t_B: jax.Array, eps: jax.Array, prediction: str) -> jax.Array:
    """What the network regresses onto in the simplified loss: eps itself or v."""
    if prediction == "v":
      return self.v_from_eps(x0, t_B, eps)
    return eps
