"""Invertible layers of coupling flows (RealNVP, Glow) on vectors, each returning its log-det.

Every layer maps x [B, D] to (y [B, D], log|det dy/dx| [B]) and, with `inverse=True`,
y back to (x, log|det dx/dy|), so a flow's exact log-density is a sum of per-layer terms:
- `AffineCoupling` (Dinh et al. 2017): the coordinates where `mask` is 1 pass unchanged
  and condition an MLP that scales and shifts the others; log-det = sum of log-scales.
  The log-scale is `scale * tanh(raw)` (RealNVP's bound) and the MLP's last layer starts
  at zero, so a new coupling is the identity.
- `InvertibleLinear` (Kingma & Dhariwal 2018, the 1x1 convolution of Glow on vectors):
  W = P L (U + diag(exp(log_s))), P a fixed permutation; log-det = sum(log_s). It starts
  as P, the permutation between couplings of RealNVP, and learns to mix from there.
- `CouplingFlow`: `num_couplings` steps of (InvertibleLinear, AffineCoupling), masks
  alternating between the two halves of the (permuted) coordinates.
With `compute_dtype` (e.g. bfloat16) only the couplings' conditioning MLPs compute in it:
the data path, the scales and every log-det stay in the input's dtype (float32), so the
flow stays invertible to float32 rounding and its log-density keeps float32 precision.
"""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from genjax.nets import mlp


def half_mask(dim: int, index: int) -> tuple[int, ...]:
  """1 on the first half of `dim` coordinates for even `index`, on the second half for odd."""
  first = np.arange(dim) < dim // 2
  return tuple(int(v) for v in (first if index % 2 == 0 else ~first))


def fixed_permutation(dim: int, index: int) -> tuple[int, ...]:
  """A permutation of `dim` coordinates drawn from seed `index`: the same in every run."""
  return tuple(int(i) for i in np.random.default_rng(index).permutation(dim))


class AffineCoupling(nn.Module):
  """y = x on mask 1; y = x * exp(s(x_kept)) + t(x_kept) on mask 0.

  Attributes:
    mask: 0/1 per coordinate, 1 = passed through and conditioned on.
    widths: hidden widths of the conditioning MLP.
    compute_dtype: the dtype the MLP computes in (None: the input's); its output is cast
      back to the input's dtype.
  """
  mask: tuple[int, ...]
  widths: Sequence[int]
  compute_dtype: Any = None

  @nn.compact
  def __call__(self, x_BD: jax.Array, inverse: bool = False) -> tuple[jax.Array, jax.Array]:
    dim = x_BD.shape[-1]
    keep_D = jnp.asarray(self.mask, x_BD.dtype)
    out_B2D = mlp.MLP(tuple(self.widths), 2 * dim, activation="silu", zero_out=True,
                      dtype=self.compute_dtype)(x_BD * keep_D).astype(x_BD.dtype)
    raw_BD, shift_BD = jnp.split(out_B2D, 2, axis=-1)
    scale_D = self.param("scale", nn.initializers.ones, (dim,))
    log_s_BD = (1 - keep_D) * scale_D * jnp.tanh(raw_BD)
    shift_BD = (1 - keep_D) * shift_BD
    if inverse:
      return (x_BD - shift_BD) * jnp.exp(-log_s_BD), -log_s_BD.sum(-1)
    return x_BD * jnp.exp(log_s_BD) + shift_BD, log_s_BD.sum(-1)


class InvertibleLinear(nn.Module):
  """y = W x with W = P L (U + diag(exp(log_s))): L unit lower, U strictly upper triangular.

  Attributes:
    permutation: P as (P x)_i = x_permutation[i].
  """
  permutation: tuple[int, ...]

  @nn.compact
  def __call__(self, x_BD: jax.Array, inverse: bool = False) -> tuple[jax.Array, jax.Array]:
    dim = x_BD.shape[-1]
    lower_DD = jnp.tril(self.param("lower", nn.initializers.zeros, (dim, dim)), -1) + jnp.eye(dim)
    log_s_D = self.param("log_s", nn.initializers.zeros, (dim,))
    upper_DD = (jnp.triu(self.param("upper", nn.initializers.zeros, (dim, dim)), 1)
                + jnp.diag(jnp.exp(log_s_D)))
    logdet_B = jnp.broadcast_to(log_s_D.sum(), x_BD.shape[:1])
    perm = np.asarray(self.permutation)
    if inverse:
      lu_BD = x_BD[:, np.argsort(perm)]
      u_DB = jax.scipy.linalg.solve_triangular(lower_DD, lu_BD.T, lower=True, unit_diagonal=True)
      return jax.scipy.linalg.solve_triangular(upper_DD, u_DB, lower=False).T, -logdet_B
    return (x_BD @ upper_DD.T @ lower_DD.T)[:, perm], logdet_B


class CouplingFlow(nn.Module):
  """A RealNVP/Glow flow on vectors: steps of (InvertibleLinear, AffineCoupling).

  Attributes:
    num_couplings: flow steps.
    widths: hidden widths of each coupling's MLP.
    compute_dtype: the dtype the couplings' MLPs compute in (None: the input's).
  """
  num_couplings: int
  widths: Sequence[int]
  compute_dtype: Any = None

  @nn.compact
  def __call__(self, x_BD: jax.Array, inverse: bool = False) -> tuple[jax.Array, jax.Array]:
    dim = x_BD.shape[-1]
    layers = []
    for k in range(self.num_couplings):
      layers += [InvertibleLinear(fixed_permutation(dim, k)),
                 AffineCoupling(half_mask(dim, k), tuple(self.widths), self.compute_dtype)]
    logdet_B = jnp.zeros(x_BD.shape[:1], x_BD.dtype)
    h_BD = x_BD
    for layer in reversed(layers) if inverse else layers:
      h_BD, ld_B = layer(h_BD, inverse)
      logdet_B = logdet_B + ld_B
    return h_BD, logdet_B
