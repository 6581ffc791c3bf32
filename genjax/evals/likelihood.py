"""The `likelihood` evaluator: ELBO and importance-weighted bounds on -log p(x), held-out data.

For a VAE (a LatentPosterior and EvidenceBound family), each example gets k posterior
samples z_i ~ q(z|x) and log-weights log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x):
  ELBO     = mean_i log w_i            (k-sample estimate of the usual bound)
  IWAE_k   = log (1/k) sum_i w_i       (Burda et al. 2016; IWAE_k <= IWAE_{k+1} <= log p(x))
reported as the upper bounds -ELBO and -IWAE_k on -log p(x) in nats. The k samples are
drawn in chunks inside one `lax.scan` that accumulates the log-sum-exp and the sum, so
memory holds one chunk (k = 5,000 costs time, not memory); `cfg.chunk` fixes the chunk,
by default as many samples as keep a chunk's decoder outputs under `cfg.chunk_elements`.

A family with only a LogProbBound (diffusion) is handed to the `nll_bound` evaluator:
its bound, bits/dim and, on toy2d mixtures, the exact NLL and gap.

Bits/dim = nats / (D ln 2), D the data dimensions. Dequantisation convention:
- binary data (sprites) with a Bernoulli decoder: p(x) is a probability of discrete
  pixels, no dequantisation needed; `proper_likelihood` is True.
- grey-level images (digits) with a Binomial(n = model.levels) decoder on their grid:
  a probability of the counts n x, no dequantisation needed (True).
- grey-level images with a Bernoulli decoder: the 'NLL' is a cross-entropy of values in
  [0, 1], not a normalised density of any discretisation, so its bits/dim is a loss to
  compare between such models only; `proper_likelihood` is False.
- grey-level images with a Gaussian decoder: a continuous density of undequantised
  values, not comparable to discrete bits/dim either (False).
- toy2d points with a Gaussian decoder: a continuous density in nats (True), reported
  next to the exact NLL of the same points under the true mixture (`toy2d.log_density`).

Cost: k decoder passes per example; the defaults (k = 1000, data.num_eval examples) suit
an accelerator, on a CPU lower `num_examples` or `k`.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from genjax.core import family as contract
from genjax.data import toy2d
from genjax.evals import nll_bound
from genjax.evals.context import EvalContext

_LOG_2PI = math.log(2 * math.pi)


def log_weights(family, state, x_BX: jax.Array, mean_BD: jax.Array, logvar_BD: jax.Array,
                eps_SBD: jax.Array) -> jax.Array:
  """log p(x|z) + log p(z) - log q(z|x) [S, B] for z = mean + std * eps (S samples per x)."""
  z_SBD = mean_BD + jnp.exp(0.5 * logvar_BD) * eps_SBD
  # (z - mean) / std is eps itself: no division by a small std.
  log_qz_SB = -0.5 * jnp.sum(eps_SBD**2 + logvar_BD + _LOG_2PI, -1)
  return family.log_joint(state, x_BX, z_SBD) - log_qz_SB


def importance_bounds(family, state, x_BX: jax.Array, rng: jax.Array, k: int,
                      chunk: int) -> tuple[jax.Array, jax.Array]:
  """k-sample ELBO and IWAE_k lower bounds on log p(x), each [B], from chunks of samples.

  Args:
    family: a LatentPosterior (`posterior` and `log_joint`).
    state: the train state.
    x_BX: a batch of inputs.
    rng: key for the posterior samples.
    k: number of importance samples per example.
    chunk: samples per scan step; the last chunk's samples beyond k are masked out.

  Returns:
    (elbo_B, iwae_B) in nats.
  """
  mean_BD, logvar_BD = family.posterior(state, x_BX)
  chunk = max(1, min(chunk, k))
  num_chunks = -(-k // chunk)

  def body(carry, i):
    lse_B, total_B = carry
    eps = jax.random.normal(jax.random.fold_in(rng, i), (chunk,) + mean_BD.shape)
    log_w_SB = log_weights(family, state, x_BX, mean_BD, logvar_BD, eps)
    valid_S1 = (i * chunk + jnp.arange(chunk) < k)[:, None]
    lse_B = jnp.logaddexp(lse_B, jax.nn.logsumexp(jnp.where(valid_S1, log_w_SB, -jnp.inf), 0))
    total_B = total_B + jnp.sum(jnp.where(valid_S1, log_w_SB, 0.0), 0)
    return (lse_B, total_B), None

  b = x_BX.shape[0]
  init = (jnp.full((b,), -jnp.inf, jnp.float32), jnp.zeros((b,), jnp.float32))
  (lse_B, total_B), _ = jax.lax.scan(body, init, jnp.arange(num_chunks))
  return total_B / k, lse_B - math.log(k)


def default_chunk(k: int, batch_size: int, num_dims: int, elements: int) -> int:
  """Samples per chunk so that chunk * batch * dims decoder outputs stay under `elements`."""
  return int(max(1, min(k, elements // max(1, batch_size * num_dims))))


def make_iwae_fn(ctx: EvalContext, k: int, chunk: int):
  """Jitted (state, x, rng) -> (elbo_B, iwae_B) for the context's family."""
  family = ctx.family
  return jax.jit(lambda state, x, rng: importance_bounds(family, state, x, rng, k, chunk))


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  family = ctx.family
  if not contract.has(family, contract.LatentPosterior, contract.EvidenceBound):
    ctx.require(contract.LogProbBound, evaluator="likelihood")
    return nll_bound.run(ctx, cfg)
  k = int(cfg.get("k", 1000))
  # The held-out set is read in whole eval batches: at least one, rounded down after that.
  num = max(int(cfg.get("num_examples", ctx.config.data.num_eval)), ctx.config.data.eval_batch_size)
  dims = ctx.info.num_dims
  chunk = int(cfg.get("chunk", 0)) or default_chunk(
      k, ctx.config.data.eval_batch_size, dims, int(cfg.get("chunk_elements", 1 << 23)))
  bounds = make_iwae_fn(ctx, k, chunk)
  mixture = ctx.config.data.name == "toy2d" and ctx.config.data.toy in toy2d.MIXTURES

  def per_batch(state, batch, rng):
    elbo, iwae = bounds(state, batch["x"], rng)
    out = {"nelbo": -elbo, "niwae": -iwae}
    if mixture:
      out["x"] = batch["x"]
    return out

  terms = ctx.per_example(per_batch, num, label=f"likelihood (k={k:,})")
  nelbo, niwae = terms["nelbo"].astype(np.float64), terms["niwae"].astype(np.float64)
  to_bits = 1.0 / (dims * math.log(2))
  proper = family.proper_likelihood(ctx.info)
  out = {
      "nelbo_nats": float(nelbo.mean()),
      "nelbo_stderr_nats": _stderr(nelbo),
      "nelbo_bits_per_dim": float(nelbo.mean() * to_bits),
      "iwae_nats": float(niwae.mean()),
      "iwae_bits_per_dim": float(niwae.mean() * to_bits),
      "iwae_stderr_nats": _stderr(niwae),
      "elbo_iwae_gap_nats": float((nelbo - niwae).mean()),
      "k": k,
      "num_examples": int(len(niwae)),
      "proper_likelihood": bool(proper),
  }
  if mixture:
    exact = -toy2d.log_density(ctx.config.data.toy, terms["x"])
    out["exact_nll_nats"] = float(exact.mean())
    out["iwae_gap_to_exact_nats"] = float((niwae - exact).mean())
  return out


def _stderr(x_N: np.ndarray) -> float:
  return float(x_N.std(ddof=1) / math.sqrt(len(x_N))) if len(x_N) > 1 else 0.0
