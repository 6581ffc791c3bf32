"""Pieces every family shares: state creation, the gradient step (with optional gradient
accumulation over micro-batches), the parameter EMA rule and mixed precision (`apply_net`)."""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax

from genjax import config as gconfig
from genjax.core.state import TrainState
from genjax.errors import ConfigError

# (params, batch, rng, hp) -> (scalar loss, metrics dict of scalars)
LossFn = Callable[[Any, dict, jax.Array, dict], tuple[jax.Array, dict]]


def new_state(params: dict, optimizer: optax.GradientTransformation, extra=None) -> TrainState:
  """A step-0 state with one optimiser group, 'main', over all params."""
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    opt_state={"main": optimizer.init(params)}, ema={}, extra=extra or {})


def gradient_step(loss_fn: LossFn, optimizer: optax.GradientTransformation, state: TrainState,
                  batch: dict, rng: jax.Array, hp: dict,
                  micro_batches: int = 1) -> tuple[TrainState, dict]:
  """One optimiser step on loss_fn; rng is folded with the step so a resume redraws it exactly.

  With `micro_batches` = k > 1 the gradient is the mean over k micro-batches of B/k (see
  `value_and_grad`), micro-batch j drawing its noise from fold_in(step rng, j).
  """
  step_rng = jax.random.fold_in(rng, state.step)
  (_, metrics), grads = value_and_grad(loss_fn, micro_batches, split=(1,), rng_arg=2,
                                       has_aux=True)(state.params, batch, step_rng, hp)
  updates, opt_state = optimizer.update(grads, state.opt_state["main"], state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = dict(metrics, lr=learning_rate(opt_state))
  return state.replace(step=state.step + 1, params=params, opt_state={"main": opt_state}), metrics


def value_and_grad(fn: Callable, micro_batches: int = 1, split: tuple[int, ...] = (1,),
                   rng_arg: int | None = None, has_aux: bool = False) -> Callable:
  """`jax.value_and_grad(fn)` over a batch of B, computed as k = `micro_batches` of B/k.

  Gradient accumulation: the arguments at positions `split` (batch pytrees whose leaves
  are [B, ...]; None is fine) are cut into k consecutive micro-batches, and a `lax.scan`
  computes one micro-batch at a time, so activation memory is that of B/k. The returned
  gradient is the mean of the k micro-batch gradients, which for a loss that is a mean of
  per-example terms is the full-batch gradient up to float32 summation order. Returned
  values follow the same rule: scalars (the loss, mean metrics) are averaged over the
  micro-batches, per-example arrays [B/k, ...] are concatenated back to [B, ...]. The key
  at position `rng_arg` is folded with the micro-batch index j, so the noise differs from a
  full-batch step's draw (same distribution, other numbers).

  NOT equal to a full-batch step: any term computed from the whole batch at once, e.g.
  batch statistics (batch norm, a minibatch discriminator), a FactorVAE's permuted batch,
  a beta-TCVAE's minibatch-weighted q(z) estimate, a DIP-VAE's batch covariance, or a
  CycleGAN's history pool; families refuse k > 1 for those (`micro_batches(config, refused=...)`).
  With k = 1 this is exactly `jax.value_and_grad(fn, has_aux=has_aux)`.

  Args:
    fn: (params, *args) -> scalar loss, or (loss, aux) with has_aux.
    micro_batches: k; B must be divisible by it.
    split: positions (in fn's signature; 0 is params) of the batch arguments to cut.
    rng_arg: position of a key to fold with the micro-batch index, if any.
    has_aux: as in jax.value_and_grad.

  Returns:
    A function with jax.value_and_grad(fn)'s signature and output structure.
  """
  grad_fn = jax.value_and_grad(fn, has_aux=has_aux)
  if micro_batches == 1:
    return grad_fn
  k = micro_batches

  def cut(x_B):
    return x_B.reshape((k, x_B.shape[0] // k) + x_B.shape[1:])

  def accumulated(params, *args):
    parts = tuple(jax.tree.map(cut, args[i - 1]) for i in split)

    def body(grad_sum, j_and_parts):
      j, micro = j_and_parts
      call = list(args)
      for i, part in zip(split, micro):
        call[i - 1] = part
      if rng_arg is not None:
        call[rng_arg - 1] = jax.random.fold_in(args[rng_arg - 1], j)
      out, grads = grad_fn(params, *call)
      return jax.tree.map(jnp.add, grad_sum, grads), out

    grad_sum, outs_k = jax.lax.scan(body, jax.tree.map(jnp.zeros_like, params),
                                    (jnp.arange(k), parts))
    outs = jax.tree.map(_merge_micro, outs_k)
    return outs, jax.tree.map(lambda g: g / k, grad_sum)
  return accumulated


def _merge_micro(out_K):
  """Scan outputs [k] (scalars) -> their mean; [k, B/k, ...] (per example) -> [B, ...]."""
  if out_K.ndim == 1:
    return out_K.mean(0)
  return out_K.reshape((-1,) + out_K.shape[2:])


def micro_batches(config, refused: str = "") -> int:
  """config.train.grad_accum_steps, checked: B divisible by it, and 1 where `refused` (the
  reason a family or objective cannot accumulate) is given."""
  k = int(gconfig.optional(config, "train.grad_accum_steps"))
  if k > 1 and refused:
    raise ConfigError(f"train.grad_accum_steps={k} is refused: {refused}; set it to 1")
  if config.data.batch_size % k:
    raise ConfigError(f"train.grad_accum_steps={k} must divide data.batch_size="
                      f"{config.data.batch_size} (micro-batches of equal size)")
  return k


# --- mixed precision (train.precision) --------------------------------------------------

# train.precision -> the dtype networks compute in
COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def precision(config) -> str:
  """config.train.precision ('float32' when absent): what a family's networks compute in."""
  return str(gconfig.optional(config, "train.precision"))


def cast_floats(tree, dtype):
  """`tree` with every floating-point array leaf cast to `dtype`; integer leaves (labels,
  timestep indices), None and Python values pass unchanged."""
  def cast(a):
    if hasattr(a, "dtype") and jnp.issubdtype(a.dtype, jnp.floating):
      return a.astype(dtype)
    return a
  return jax.tree.map(cast, tree)


def apply_net(precision_name: str, module, params, *inputs, collections: dict | None = None,
              **kwargs):
  """`module.apply({'params': params, **collections}, *inputs, **kwargs)`, computed in
  `precision_name`.

  The families' one mixed-precision mechanism. With 'bfloat16' the float32 params and the
  floating positional `inputs` are cast to bfloat16 here, where the family applies its
  network, so every matmul, convolution and activation inside runs in bfloat16 (flax layers
  compute in the dtype of their inputs and params); the network's floating outputs are cast
  back to float32 before any loss, log-likelihood or KL term reads them. Gradients flow back
  through the casts and arrive in float32 on the float32 params: parameters, optimiser state,
  EMA and checkpoints never hold bfloat16. Normalisation layers (GroupNorm, instance norm)
  keep their mean, variance and normalised values in float32 (flax promotes their
  statistics to float32) and hand bfloat16 on. Keyword arguments pass uncast: timesteps (a
  fractional diffusion index near 1000 would be rounded to a multiple of 4 in bfloat16),
  flags and rngs. Other variable `collections` the module reads (e.g. a spectral norm's
  power-iteration vectors) are cast like the params, so the weights they rescale stay
  bfloat16; what a `mutable` call returns comes back float32 like every output.

  With 'float32' this is exactly `module.apply`: results are bit-identical to a run
  without train.precision.
  """
  variables = {"params": params, **(collections or {})}
  if precision_name == "float32":
    return module.apply(variables, *inputs, **kwargs)
  dtype = COMPUTE_DTYPES[precision_name]
  out = module.apply(cast_floats(variables, dtype), *cast_floats(inputs, dtype), **kwargs)
  return cast_floats(out, jnp.float32)


# The decay at step n is min(hp['ema_decay'], (1 + n) / (10 + n)): early averages forget the
# initialisation quickly instead of dragging it along for 1 / (1 - decay) steps.
_EMA_WARMUP = 10.0


def ema_decay(hp: dict, step: jax.Array) -> jax.Array:
  """The EMA decay after `step` optimiser steps: hp['ema_decay'] (traced), warmed up."""
  return warmed_up_decay(hp["ema_decay"], step)


def warmed_up_decay(decay, step: jax.Array) -> jax.Array:
  """min(decay, (1 + n) / (10 + n)) after n = `step` updates: any EMA's warmed-up decay."""
  n = step.astype(jnp.float32)
  return jnp.minimum(decay, (1.0 + n) / (_EMA_WARMUP + n))


def ema_update(ema, params, decay: jax.Array):
  """One EMA step of every leaf: decay * ema + (1 - decay) * params (decay 0 = params)."""
  return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)


def with_param_ema(init: Callable, train_step: Callable) -> tuple[Callable, Callable]:
  """A family's (init, train_step) that also keep an EMA of all params in state.ema.

  For families whose own init leaves state.ema empty (all but diffusion, which updates its
  EMA itself with the same `ema_decay`/`ema_update` because its analytic variances share
  the decay). The EMA starts as a copy of the initial params and is updated inside the
  compiled step after every optimiser step, from hp['ema_decay'] (traced, so members of a
  population may differ in it).
  """
  def init_with_ema(rng, batch, hp):
    state = init(rng, batch, hp)
    return state.replace(ema=jax.tree.map(jnp.copy, state.params))

  def step_with_ema(state, batch, rng, hp):
    state, metrics = train_step(state, batch, rng, hp)
    return state.replace(ema=ema_update(state.ema, state.params, ema_decay(hp, state.step))), metrics
  return init_with_ema, step_with_ema


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
