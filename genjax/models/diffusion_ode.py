"""The probability-flow ODE of a noise predictor: adaptive encode, decode and exact log-likelihood.

Everything takes a generic `eps_fn(x_BX, tau_B) -> eps_BX` (tau the network's fractional
index, `diffusion_time`), so a trained network and a closed-form oracle share one path.
Time is s = log(sigma / alpha) (`ContinuousVP`); the ODE in data units is
  dx/ds = f(x, s) = sigma(s) (eps(x, tau(s)) - sigma(s) x),
integrated per example (vmapped) with diffrax's Tsit5 and a PID step-size controller
(rtol, atol: local error per step of atol + rtol |y|, diffrax's RMS norm).

Log-likelihood (instantaneous change of variables; Chen et al. 2018, Song et al. 2021
section D.2, score_sde's likelihood.py): along a solution, d log p_s(x(s)) / ds =
-div f, so with x(s_max) = z,
  log p(x_0) = log N(z; 0, I) + int_{s_min}^{s_max} div f(x(s), s) ds,
  div f = sigma tr(d eps / dx) - D sigma^2.
tr(d eps / dx) is exact (a Jacobian by forward mode, D passes) in low dimensions, and the
Skilling-Hutchinson estimate v^T (d eps / dx) v otherwise (one probe per example, Rademacher
or Gaussian, held fixed along the path as in FFJORD): unbiased for the trace, so the
integral and log p(x) are unbiased too; their spread is reported as a standard error.
s_min is continuous time t_min (default 1e-5 as score_sde), where sigma^2 ~ 1e-6 for the
default schedules: the density returned is that of x(s_min), the data blurred by that
noise, which differs from the data density by O(D sigma_min^2 / (2 var)) nats.
"""
from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from genjax.models.diffusion_time import ContinuousVP

EpsFn = Callable[[jax.Array, jax.Array], jax.Array]
DIVERGENCES = ("exact", "hutchinson", "auto")
PROBES = ("rademacher", "gaussian")
EXACT_MAX_DIMS = 16  # 'auto' takes the exact trace up to this many dimensions
_LOG_2PI = math.log(2 * math.pi)


def standard_normal_logpdf(z_X: jax.Array) -> jax.Array:
  """log N(z; 0, I) of one example (any shape), a scalar."""
  return -0.5 * jnp.sum(z_X**2 + _LOG_2PI)


def _single(eps_fn: EpsFn) -> Callable[[jax.Array, jax.Array], jax.Array]:
  """eps_fn for one example x_X at a scalar tau."""
  return lambda x_X, tau: eps_fn(x_X[None], tau[None])[0]


def _solve(field, y0, s0: float, s1: float, rtol: float, atol: float, max_steps: int):
  """Tsit5 + PID from s0 to s1 (either direction); (y at s1, accepted steps)."""
  # Imported here, not at the top: diffrax (and equinox) add ~0.4 s of CPU to every
  # `genjax` command's start-up, and only the ODE paths use them.
  import diffrax  # pylint: disable=g-import-not-at-top
  sol = diffrax.diffeqsolve(
      diffrax.ODETerm(field), diffrax.Tsit5(), s0, s1, None, y0,
      stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
      max_steps=max_steps)
  return jax.tree.map(lambda a: a[-1], sol.ys), sol.stats["num_accepted_steps"]


def _flow(vp: ContinuousVP, eps_fn: EpsFn, x0_BX: jax.Array, s0: float, s1: float,
          rtol: float, atol: float, max_steps: int) -> jax.Array:
  one = _single(eps_fn)

  def field(s, x, args):
    del args
    sig = vp.sigma(s)
    return sig * (one(x, vp.tau_of_s(s)) - sig * x)

  return jax.vmap(lambda x: _solve(field, x, s0, s1, rtol, atol, max_steps)[0])(x0_BX)


def encode(vp: ContinuousVP, eps_fn: EpsFn, x0_BX: jax.Array, t_min: float, rtol: float,
           atol: float, max_steps: int = 4096) -> jax.Array:
  """Data x(t_min) -> noise z at the last knot along the ODE (deterministic), shaped like x0."""
  return _flow(vp, eps_fn, x0_BX, vp.s_of_t(t_min), vp.s_max, rtol, atol, max_steps)


def decode(vp: ContinuousVP, eps_fn: EpsFn, z_BX: jax.Array, t_min: float, rtol: float,
           atol: float, max_steps: int = 4096) -> jax.Array:
  """Noise z -> data x(t_min): `encode`'s inverse, and the ODE sampler for z ~ N(0, I)."""
  return _flow(vp, eps_fn, z_BX, vp.s_max, vp.s_of_t(t_min), rtol, atol, max_steps)


def exact_trace(fn: Callable[[jax.Array], jax.Array], x_X: jax.Array) -> jax.Array:
  """tr(d fn / dx) at x by the full Jacobian (forward mode, one pass per dimension)."""
  d = x_X.size
  jac_DD = jax.jacfwd(lambda v: fn(v.reshape(x_X.shape)).reshape(d))(x_X.reshape(d))
  return jnp.trace(jac_DD)


def hutchinson_trace(fn: Callable[[jax.Array], jax.Array], x_X: jax.Array,
                     probe_X: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(fn(x), v^T (d fn / dx) v) for one probe v, by one forward-mode pass.

  The estimate's mean over probes with E[v v^T] = I is the trace (Hutchinson 1990;
  Skilling 1989).
  """
  fx_X, jv_X = jax.jvp(fn, (x_X,), (probe_X,))
  return fx_X, jnp.sum(probe_X * jv_X)


def draw_probes(rng: jax.Array, shape: tuple[int, ...], kind: str) -> jax.Array:
  """Probe vectors with E[v v^T] = I: Rademacher (+-1, least variance) or Gaussian."""
  if kind == "rademacher":
    return jax.random.rademacher(rng, shape, jnp.float32)
  if kind == "gaussian":
    return jax.random.normal(rng, shape, jnp.float32)
  raise ValueError(f"probe '{kind}' is unknown; use one of {PROBES}")


def use_exact(divergence: str, num_dims: int) -> bool:
  """Whether `divergence` ('exact', 'hutchinson', 'auto') means the exact trace."""
  if divergence not in DIVERGENCES:
    raise ValueError(f"divergence '{divergence}' is unknown; use one of {DIVERGENCES}")
  return divergence == "exact" or (divergence == "auto" and num_dims <= EXACT_MAX_DIMS)


def log_likelihood(vp: ContinuousVP, eps_fn: EpsFn, x0_BX: jax.Array, rng: jax.Array, *,
                   t_min: float, rtol: float, atol: float, divergence: str = "auto",
                   probe: str = "rademacher", max_steps: int = 4096,
                   prior_logpdf: Callable[[jax.Array], jax.Array] = standard_normal_logpdf
                   ) -> dict[str, jax.Array]:
  """log p(x) of each example under the probability-flow ODE model, in nats.

  Args:
    vp: the continuous schedule.
    eps_fn: (x_BX, tau_B) -> eps_BX.
    x0_BX: [B, ...] points in the model's space.
    rng: key for the Hutchinson probes (unused for the exact trace).
    t_min: continuous time where the data sit (see the module doc).
    rtol, atol: the solver's tolerances.
    divergence: 'exact', 'hutchinson' or 'auto' (exact up to EXACT_MAX_DIMS dims).
    probe: 'rademacher' or 'gaussian' (Hutchinson only).
    max_steps: the solver's step limit per example.
    prior_logpdf: log-density of one example at s_max (default N(0, I)).

  Returns:
    {'log_p_B': [B], 'z_BX': the encodings, 'prior_B': log prior of z [B],
     'steps_B': accepted solver steps [B]}.
  """
  one = _single(eps_fn)
  shape, d = x0_BX.shape[1:], math.prod(x0_BX.shape[1:])
  exact = use_exact(divergence, d)
  probes_BX = (jnp.zeros_like(x0_BX) if exact
               else draw_probes(rng, x0_BX.shape, probe))

  def per_example(x_X, v_X):
    def field(s, y, args):
      del args
      x, _ = y
      sig, tau = vp.sigma(s), vp.tau_of_s(s)
      eps_of = lambda u: one(u, tau)
      if exact:
        eps, tr = eps_of(x), exact_trace(eps_of, x)
      else:
        eps, tr = hutchinson_trace(eps_of, x, v_X)
      return sig * (eps - sig * x), sig * tr - d * sig**2

    y0 = (x_X, jnp.zeros((), jnp.float32))
    (z_X, delta), steps = _solve(field, y0, vp.s_of_t(t_min), vp.s_max, rtol, atol, max_steps)
    prior = prior_logpdf(z_X.reshape(shape))
    return prior + delta, z_X, prior, steps

  log_p, z, prior, steps = jax.vmap(per_example)(x0_BX, probes_BX)
  return {"log_p_B": log_p, "z_BX": z, "prior_B": prior, "steps_B": steps}
