"""Optimisers from config.optim, with the learning rate kept inside the optimiser state.

`optax.inject_hyperparams` stores the learning rate as an array in the state, so a
population of members can hold different rates and the schedule is checkpointed with it.
"""
from __future__ import annotations

import ml_collections
import optax


def learning_rate_schedule(optim: ml_collections.ConfigDict, num_steps: int) -> optax.Schedule:
  """Warm-up (linear from 0), then constant, cosine, linear-to-zero or constant-then-linear."""
  decay_steps = max(num_steps - optim.warmup_steps, 1)
  if optim.schedule == "constant":
    main = optax.constant_schedule(optim.learning_rate)
  elif optim.schedule == "cosine":
    main = optax.cosine_decay_schedule(optim.learning_rate, decay_steps)
  elif optim.schedule == "constant_then_linear":  # CycleGAN: constant for half, then to 0
    half = decay_steps // 2
    main = optax.join_schedules([optax.constant_schedule(optim.learning_rate),
                                 optax.linear_schedule(optim.learning_rate, 0.0,
                                                       decay_steps - half)], [half])
  else:
    main = optax.linear_schedule(optim.learning_rate, 0.0, decay_steps)
  if not optim.warmup_steps:
    return main
  warmup = optax.linear_schedule(0.0, optim.learning_rate, optim.warmup_steps)
  return optax.join_schedules([warmup, main], [optim.warmup_steps])


def make_optimizer(optim: ml_collections.ConfigDict, num_steps: int) -> optax.GradientTransformation:
  """Adam, AdamW or SGD (momentum b1) with optional global-norm clipping."""
  schedule = learning_rate_schedule(optim, num_steps)
  if optim.name == "adam":
    opt = optax.inject_hyperparams(optax.adam)(
        learning_rate=schedule, b1=optim.b1, b2=optim.b2, eps=optim.eps)
  elif optim.name == "adamw":
    opt = optax.inject_hyperparams(optax.adamw)(
        learning_rate=schedule, b1=optim.b1, b2=optim.b2, eps=optim.eps,
        weight_decay=optim.weight_decay)
  else:
    opt = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule, momentum=optim.b1)
  if optim.grad_clip:
    opt = optax.chain(optax.clip_by_global_norm(optim.grad_clip), opt)
  return opt
