"""TrainState: the one pytree a family's compiled step reads and returns.

Every family builds it, the runner steps it and the checkpoints store it, so it lives on
the ground floor that all of them import.
"""
from __future__ import annotations

from typing import Any

import flax.struct
import jax


@flax.struct.dataclass
class TrainState:
  """Everything that changes during training, as arrays (so it jits, vmaps and checkpoints).

  Attributes:
    step: int32 scalar, the number of optimiser steps taken.
    params: network name -> parameters, e.g. {'encoder', 'decoder'} or {'gen', 'disc'}.
    opt_state: optimiser group -> optax state (a GAN has one group per player).
    ema: exponential moving averages of params where a family keeps them, else {}.
    extra: any other array state a family carries (batch stats, a history pool), else {}.
  """
  step: jax.Array
  params: dict[str, Any]
  opt_state: dict[str, Any]
  ema: dict[str, Any]
  extra: dict[str, Any]
