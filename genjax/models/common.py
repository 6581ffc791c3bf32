"""Pieces every single-optimiser family shares: state creation and the gradient step."""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from genjax.core.state import TrainState

# (params, batch, rng, hp) -> (scalar loss, metrics dict of scalars)
LossFn = Callable[[Any, dict, jax.Array, dict], tuple[jax.Array, dict]]


def new_state(params: dict, optimizer: optax.GradientTransformation, extra=None) -> TrainState:
  """A step-0 state with one optimiser group, 'main', over all params."""
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    opt_state={"main": optimizer.init(params)}, ema={}, extra=extra or {})


def gradient_step(loss_fn: LossFn, optimizer: optax.GradientTransformation, state: TrainState,
                  batch: dict, rng: jax.Array, hp: dict) -> tuple[TrainState, dict]:
  """One optimiser step on loss_fn; rng is folded with the step so a resume redraws it exactly."""
  step_rng = jax.random.fold_in(rng, state.step)
  (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params, batch, step_rng, hp)
  updates, opt_state = optimizer.update(grads, state.opt_state["main"], state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = dict(metrics, lr=learning_rate(opt_state))
  return state.replace(step=state.step + 1, params=params, opt_state={"main": opt_state}), metrics


def learning_rate(opt_state) -> jax.Array:
  """The current learning rate of an optimiser built by genjax.train.optim.make_optimizer."""
  if hasattr(opt_state, "hyperparams"):
    return opt_state.hyperparams["learning_rate"]
  return _find_lr(opt_state)


def _find_lr(opt_state) -> jax.Array:
  """The injected learning rate inside a chain (e.g. after gradient clipping)."""
  for inner in opt_state:
    if hasattr(inner, "hyperparams"):
      return inner.hyperparams["learning_rate"]
  raise ValueError("optimiser built without optax.inject_hyperparams")
