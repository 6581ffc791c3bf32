"""Fixed-step probability-flow ODE samplers: Euler, Heun and DPM-Solver++(2M).

All three integrate the same ODE as `diffusion_ode` from the prior at the last knot to the
data, on one grid of noise levels so that they differ only in the update rule: N levels
sigma_bar = sigma / alpha spaced as in Karras et al. (2022, eq. 5, rho = 7) from the last
knot to the first, then a final step to sigma_bar = 0 (the x_0 prediction), as DDIM ends.
- euler: x_bar += (sigma_bar' - sigma_bar) eps in x_bar = x / alpha (DDIM's update, Song et
  al. 2021a eq. 14, here on the Karras grid); N network calls.
- heun: Karras et al. (2022) algorithm 1 without churn: Euler then the trapezoid
  correction, the final step to 0 plain Euler; 2N - 1 calls.
- dpmpp2m: DPM-Solver++(2M) (Lu et al. 2022, algorithm 2): the exact solution of the
  linear part in lambda = log(alpha / sigma) with the x_0 prediction extrapolated
  linearly from the last two steps (multistep); N calls.
`eps_fn(x_BX, tau_B)` as everywhere (tau the fractional index, `diffusion_time`).
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from genjax.models.diffusion_time import ContinuousVP

EpsFn = Callable[[jax.Array, jax.Array], jax.Array]
FAST_SAMPLERS = ("euler", "heun", "dpmpp2m")
_RHO = 7.0  # Karras et al. (2022): denser steps at low noise
SPACINGS = ("karras", "logsnr", "time_uniform", "time_quadratic")


def sigma_bar_grid(vp: ContinuousVP, num_steps: int, spacing: str = "karras",
                   t_end: float | None = None) -> np.ndarray:
  """[num_steps] decreasing sigma_bar from the last knot (t = 1) down to t_end.

  Args:
    vp: the continuous schedule.
    num_steps: levels on the grid.
    spacing: 'karras' (sigma_bar^(1 / rho) uniform, rho = 7), 'logsnr' (uniform in
      lambda = -log sigma_bar), 'time_uniform' or 'time_quadratic' (uniform in t or in
      sqrt(t), Lu et al. 2022's orders 1 and 2).
    t_end: the continuous time of the last level; None: the first knot (t = 1 / T).

  Returns:
    The levels, float64.
  """
  if spacing not in SPACINGS:
    raise ValueError(f"spacing '{spacing}' is unknown; use one of {SPACINGS}")
  t_lo = 1.0 / vp.num_steps if t_end is None else t_end
  hi, lo = np.exp(vp.s_max), np.exp(vp.s_of_t(t_lo))
  if num_steps == 1:
    return np.array([hi])
  frac = np.linspace(0.0, 1.0, num_steps)
  if spacing == "karras":
    return (hi ** (1 / _RHO) + frac * (lo ** (1 / _RHO) - hi ** (1 / _RHO))) ** _RHO
  if spacing == "logsnr":
    return np.exp(np.log(hi) + frac * (np.log(lo) - np.log(hi)))
  power = 1.0 if spacing == "time_uniform" else 2.0
  t = (1.0 + frac * (t_lo ** (1 / power) - 1.0)) ** power
  return np.exp([vp.s_of_t(float(ti)) for ti in t])


def network_calls(sampler: str, num_steps: int) -> int:
  """Network evaluations per sample of `sampler` with `num_steps` noise levels."""
  return 2 * num_steps - 1 if sampler == "heun" else num_steps


def sample(sampler: str, vp: ContinuousVP, eps_fn: EpsFn, x_T: jax.Array,
           num_steps: int, spacing: str = "karras", t_end: float | None = None,
           lower_order_final: bool = False) -> jax.Array:
  """x_T ~ N(0, I) at the last knot -> x_0 with `sampler` in `num_steps` noise levels.

  Args:
    sampler: 'euler', 'heun' or 'dpmpp2m'.
    vp: the continuous schedule.
    eps_fn: (x_BX, tau_B) -> eps.
    x_T: [B, ...] prior draw.
    num_steps: noise levels visited (network calls: `network_calls`).
    spacing, t_end: the grid of levels (`sigma_bar_grid`).
    lower_order_final: dpmpp2m only: the last step between levels is first order (no
      extrapolation of the x_0 prediction), as Lu et al. (2022) do for few steps.

  Returns:
    x_0, shaped like x_T.
  """
  if sampler not in FAST_SAMPLERS:
    raise ValueError(f"sampler '{sampler}' is unknown; use one of {FAST_SAMPLERS}")
  sb = sigma_bar_grid(vp, num_steps, spacing, t_end)
  b = x_T.shape[0]

  def eps_at(x_bar, sigma_bar):
    """eps at x = alpha x_bar, the noise level sigma_bar."""
    alpha = jax.lax.rsqrt(1.0 + sigma_bar**2)
    tau = vp.tau_of_s(jnp.log(sigma_bar))
    return eps_fn(alpha * x_bar, jnp.full((b,), tau))

  x_bar = x_T * jnp.sqrt(1.0 + jnp.float32(sb[0]) ** 2)
  pairs = jnp.asarray(np.stack([sb[:-1], sb[1:]], 1), jnp.float32)  # [N - 1, 2]
  if sampler == "dpmpp2m":
    x_bar = _dpmpp2m(eps_at, x_bar, pairs, lower_order_final)
  else:
    def step(x_bar, pair):
      cur, nxt = pair[0], pair[1]
      d = eps_at(x_bar, cur)
      x_new = x_bar + (nxt - cur) * d
      if sampler == "heun":
        x_new = x_bar + (nxt - cur) * 0.5 * (d + eps_at(x_new, nxt))
      return x_new, None
    x_bar, _ = jax.lax.scan(step, x_bar, pairs)
  last = jnp.float32(sb[-1])
  # the final step to sigma_bar = 0 is the x_0 prediction (alpha = 1 there)
  return x_bar - last * eps_at(x_bar, last)


def _dpmpp2m(eps_at, x_bar: jax.Array, pairs: jax.Array,
             lower_order_final: bool = False) -> jax.Array:
  """DPM-Solver++(2M) over the grid's intervals, in x_bar (x / alpha) units.

  With lambda = -log sigma_bar and h = lambda' - lambda, the data-prediction update
  x' = (sigma' / sigma) x + alpha' (1 - e^{-h}) D reads x_bar' = x_bar + (sigma_bar' -
  sigma_bar) (x_bar - D) / sigma_bar in x_bar, where D is the x_0 prediction, corrected
  with the previous one: D = (1 + 1 / 2r) x0 - (1 / 2r) x0_prev, r = h_prev / h.
  """
  def step(carry, inputs):
    x_bar, x0_prev, h_prev, first = carry
    pair, first_order = inputs
    cur, nxt = pair[0], pair[1]
    x0 = x_bar - cur * eps_at(x_bar, cur)
    h = jnp.log(cur) - jnp.log(nxt)
    half_inv_r = 0.5 * h / jnp.where(first, 1.0, h_prev)
    d = jnp.where(first | first_order, x0, (1.0 + half_inv_r) * x0 - half_inv_r * x0_prev)
    x_bar = x_bar + (nxt - cur) * (x_bar - d) / cur
    return (x_bar, x0, h, jnp.bool_(False)), None

  first_order = jnp.zeros((pairs.shape[0],), bool).at[-1].set(lower_order_final)
  init = (x_bar, jnp.zeros_like(x_bar), jnp.float32(1.0), jnp.bool_(True))
  (x_bar, _, _, _), _ = jax.lax.scan(step, init, (pairs, first_order))
  return x_bar
