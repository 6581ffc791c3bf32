"""Compiled samplers of a trained noise predictor: DDPM, DDIM, DDIM inversion, guidance, slerp.

Every sampler takes `eps_fn(x_t, t_B) -> eps`, the network already read as an epsilon
prediction (v-predictions converted, guidance applied), with t_B the integer indices of
`diffusion_schedule` (index t is the paper's step t + 1). The number of steps is static:
it fixes the length of the `lax.scan`, so each step count compiles once.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from genjax.models.diffusion_schedule import Schedule

EpsFn = Callable[[jax.Array, jax.Array], jax.Array]
SAMPLERS = ("ddpm", "ddim")


def timesteps(num_timesteps: int, num_steps: int) -> np.ndarray:
  """`num_steps` increasing indices from 0 to T - 1, evenly spread (one step: [T - 1]).

  Starting at T - 1 means sampling starts from the prior; ending at 0 means the last step
  removes the smallest noise level.
  """
  if not 1 <= num_steps <= num_timesteps:
    raise ValueError(f"num_steps={num_steps} must be in [1, {num_timesteps}]")
  return np.round(np.linspace(num_timesteps - 1, 0, num_steps))[::-1].astype(np.int32)


def guided_eps(eps_cond: jax.Array, eps_uncond: jax.Array, w: jax.Array) -> jax.Array:
  """Classifier-free guidance (Ho & Salimans 2021): (1 + w) eps_cond - w eps_uncond.

  w = 0 gives the conditional prediction, w = -1 the unconditional one, and w > 0
  pushes samples towards what the label explains.
  """
  return (1.0 + w) * eps_cond - w * eps_uncond


def slerp(z0: jax.Array, z1: jax.Array, frac: jax.Array) -> jax.Array:
  """Spherical interpolation between noise tensors (per example over all trailing axes).

  Gaussian noise lives near a sphere; the straight line between two draws passes through
  low-norm points the model never saw, slerp keeps the norm (Shoemake 1985; as used for
  DDIM latent interpolation by Song et al. 2021).

  Args:
    z0, z1: [B, ...] endpoints.
    frac: interpolation fraction in [0, 1], a scalar or [B].

  Returns:
    [B, ...], z0 at frac 0 and z1 at frac 1.
  """
  b = z0.shape[0]
  a, c = z0.reshape(b, -1), z1.reshape(b, -1)
  cos = jnp.sum(a * c, -1) / (jnp.linalg.norm(a, axis=-1) * jnp.linalg.norm(c, axis=-1))
  theta = jnp.arccos(jnp.clip(cos, -1.0, 1.0))
  frac = jnp.broadcast_to(jnp.asarray(frac, jnp.float32), (b,))
  sin = jnp.sin(theta)
  # nearly parallel endpoints: slerp tends to the straight line, which is numerically safe
  small = sin < 1e-6
  safe_sin = jnp.where(small, 1.0, sin)
  w0 = jnp.where(small, 1.0 - frac, jnp.sin((1.0 - frac) * theta) / safe_sin)
  w1 = jnp.where(small, frac, jnp.sin(frac * theta) / safe_sin)
  return (w0[:, None] * a + w1[:, None] * c).reshape(z0.shape)


def _clip(x0: jax.Array, clip: float | None) -> jax.Array:
  return x0 if clip is None else jnp.clip(x0, -clip, clip)


def ddpm_sample(schedule: Schedule, eps_fn: EpsFn, x_T: jax.Array, rng: jax.Array,
                variances_S, steps: np.ndarray | None = None,
                clip: float | None = None) -> jax.Array:
  """Ancestral sampling x_T -> x_0 through p(x_{t-1} | x_t) (Ho et al. 2020, algorithm 2).

  With `steps` a subsequence of indices the chain is the respaced one (same marginals, fewer
  and larger steps); `variances_S` then holds the respaced chain's reverse variances.

  Args:
    schedule: the training schedule.
    eps_fn: (x_t, t_B) -> eps.
    x_T: [B, ...] prior draw.
    rng: key; step k draws its noise from fold_in(rng, k).
    variances_S: reverse variances, [len(steps)] (or [T] when steps is None).
    steps: increasing indices visited (None: all T).
    clip: clip the predicted x_0 into [-clip, clip] (images), None for no clipping.

  Returns:
    x_0, shaped like x_T.
  """
  steps = np.arange(schedule.num_steps, dtype=np.int32) if steps is None else np.asarray(steps)
  chain = schedule if len(steps) == schedule.num_steps else schedule.respace(steps)
  var_S = jnp.asarray(variances_S, jnp.float32)
  b = x_T.shape[0]

  def body(x, k):
    t_B = jnp.full((b,), jnp.asarray(steps)[k])
    k_B = jnp.full((b,), k)
    eps = eps_fn(x, t_B)
    x0 = _clip(chain.x0_from_eps(x, k_B, eps), clip)
    mean, _ = chain.q_posterior(x0, x, k_B)
    noise = jax.random.normal(jax.random.fold_in(rng, k), x.shape)
    return mean + jnp.where(k > 0, jnp.sqrt(var_S[k]), 0.0) * noise, None

  x, _ = jax.lax.scan(body, x_T, jnp.arange(len(steps) - 1, -1, -1))
  return x


def _ddim_pairs(schedule: Schedule, num_steps: int):
  """Visited indices and alpha_bar at each and at the next-cleaner step (1 after the last)."""
  steps = timesteps(schedule.num_steps, num_steps)
  ab = schedule.alpha_bars[steps]
  return steps, ab, np.concatenate([[1.0], ab[:-1]])


def ddim_sample(schedule: Schedule, eps_fn: EpsFn, x_T: jax.Array, num_steps: int,
                eta: float = 0.0, rng: jax.Array | None = None,
                clip: float | None = None) -> jax.Array:
  """DDIM (Song et al. 2021, eq. 12): x_T -> x_0 in `num_steps` <= T steps.

  eta = 0 is deterministic (an ODE-like map from noise to data); eta = 1 with all T steps
  is DDPM ancestral sampling with the beta_tilde variances.

  Args:
    schedule: the training schedule.
    eps_fn: (x_t, t_B) -> eps.
    x_T: [B, ...] prior draw.
    num_steps: number of network calls.
    eta: stochasticity in [0, 1].
    rng: key for eta > 0 (step k uses fold_in(rng, k)).
    clip: clip the predicted x_0 into [-clip, clip], None for no clipping.

  Returns:
    x_0, shaped like x_T.
  """
  steps, ab, ab_prev = _ddim_pairs(schedule, num_steps)
  sigma = eta * np.sqrt((1.0 - ab_prev) / (1.0 - ab) * (1.0 - ab / ab_prev))
  steps = jnp.asarray(steps)
  ab, ab_prev, sigma = (jnp.asarray(a, jnp.float32) for a in (ab, ab_prev, sigma))
  b = x_T.shape[0]

  def body(x, k):
    a, a_prev, s = ab[k], ab_prev[k], sigma[k]
    eps = eps_fn(x, jnp.full((b,), steps[k]))
    x0 = _clip((x - jnp.sqrt(1.0 - a) * eps) / jnp.sqrt(a), clip)
    x = jnp.sqrt(a_prev) * x0 + jnp.sqrt(jnp.maximum(1.0 - a_prev - s**2, 0.0)) * eps
    if eta:
      x = x + s * jax.random.normal(jax.random.fold_in(rng, k), x.shape)
    return x, None

  x, _ = jax.lax.scan(body, x_T, jnp.arange(num_steps - 1, -1, -1))
  return x


def ddim_invert(schedule: Schedule, eps_fn: EpsFn, x0: jax.Array, num_steps: int,
                refine: int = 0) -> jax.Array:
  """Deterministic DDIM encoding x_0 -> x_T, the eta = 0 sampler run backwards.

  Undoing a generation step tau_k -> tau_{k-1} needs eps at the unknown noisier point
  x_{tau_k}. The plain inversion (Song et al. 2021, section 4.3; Dhariwal & Nichol 2021)
  uses eps at the current point instead, which is exact only as the steps shrink; each of
  `refine` fixed-point iterations re-evaluates eps at the latest guess of x_{tau_k}, so the
  round trip through `ddim_sample` with the same step count becomes exact as they converge.

  Args:
    schedule: the training schedule.
    eps_fn: (x_t, t_B) -> eps.
    x0: [B, ...] data (in the model's space).
    num_steps: number of steps (use the same count to generate back).
    refine: fixed-point iterations per step (each one more network call).

  Returns:
    x_T, shaped like x0.
  """
  steps, ab, ab_prev = _ddim_pairs(schedule, num_steps)
  steps = jnp.asarray(steps)
  ab, ab_prev = (jnp.asarray(a, jnp.float32) for a in (ab, ab_prev))
  b = x0.shape[0]

  def body(x, k):
    a, a_prev = ab[k], ab_prev[k]
    t_B = jnp.full((b,), steps[k])

    def noisier(eps):  # the x_{tau_k} whose generation step with this eps lands on x
      x0_hat = (x - jnp.sqrt(1.0 - a_prev) * eps) / jnp.sqrt(a_prev)
      return jnp.sqrt(a) * x0_hat + jnp.sqrt(1.0 - a) * eps

    guess = noisier(eps_fn(x, t_B))
    guess = jax.lax.fori_loop(0, refine, lambda _, g: noisier(eps_fn(g, t_B)), guess)
    return guess, None

  x, _ = jax.lax.scan(body, x0, jnp.arange(num_steps))
  return x
