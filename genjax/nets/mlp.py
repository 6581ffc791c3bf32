"""A plain multi-layer perceptron, the network for vectors and small images."""
from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax


class MLP(nn.Module):
  """Dense layers with an activation between them and none after the last.

  Attributes:
    widths: hidden layer widths.
    out_dim: output width.
    activation: nonlinearity between layers.
    zero_out: start the last layer at zero (a flow's coupling then starts as the identity).
    dtype: the dtype the layers compute in (None: that of the inputs and params); the
      params stay float32 either way.
  """
  widths: Sequence[int]
  out_dim: int
  activation: str = "relu"
  zero_out: bool = False
  dtype: Any = None

  @nn.compact
  def __call__(self, x_BD: jax.Array) -> jax.Array:
    act = getattr(nn, self.activation)
    h = x_BD.reshape(x_BD.shape[0], -1)
    for width in self.widths:
      h = act(nn.Dense(width, dtype=self.dtype)(h))
    if self.zero_out:
      return nn.Dense(self.out_dim, kernel_init=nn.initializers.zeros, dtype=self.dtype)(h)
    return nn.Dense(self.out_dim, dtype=self.dtype)(h)
