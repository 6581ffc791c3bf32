"""Latent-space manipulations shared by figures and evaluators: traversals and interpolations."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def traversal_codes(z_D: np.ndarray, values_V: np.ndarray) -> np.ndarray:
  """Codes [D * V, D]: row d sets latent d to each value in turn, the others kept at z."""
  d, v = z_D.shape[0], values_V.shape[0]
  codes = np.tile(np.asarray(z_D, np.float32), (d, v, 1))
  codes[np.arange(d), :, np.arange(d)] = values_V
  return codes.reshape(d * v, d)


def linear_interpolation(z0_D, z1_D, num: int) -> jnp.ndarray:
  """[num, D] points from z0 to z1 on the straight line (for Gaussian latent spaces)."""
  t = jnp.linspace(0.0, 1.0, num)[:, None]
  return (1 - t) * z0_D + t * z1_D
