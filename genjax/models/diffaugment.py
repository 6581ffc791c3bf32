"""Differentiable augmentation of a discriminator's inputs (DiffAugment, Zhao et al. 2020).

The same random transform family T is applied to real AND generated images before the
discriminator sees them, inside the differentiable graph, so the generator's gradient
flows back through T (every op below is differentiable in the pixels). The policy is a
comma-separated subset of:

  color        brightness + b, b ~ U[-1/4, 1/4) (the paper's U[-1/2, 1/2) on its [-1, 1]
               pixel scale, ours being [0, 1]); saturation: each pixel's channels scaled
               about their mean by s ~ U[0, 2); contrast: the image scaled about its mean
               by c ~ U[1/2, 3/2)
  translation  an integer shift of up to round(side / 8) pixels along each axis, each
               value equally likely, the vacated border filled with zeros
  cutout       a square of half the side (rounded) set to zero, placed uniformly with the
               whole square inside the image, so exactly a quarter of the pixels of an
               even-sided image is cut (the paper's code lets the square overhang the
               border, which cuts 49/256 on average)

Ops run in that fixed order whatever the order of the policy string. Randomness is drawn
per example by `draw` and applied by `apply`, so a batch's parameters can be drawn once
and cut into micro-batches (train.grad_accum_steps) and the same draw can serve the real
and the generated batch: `augment(key, x)` is the same transform for the same key.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

OPS = ("color", "translation", "cutout")
BRIGHTNESS = 0.25  # half-width of the brightness shift on [0, 1] images
TRANSLATION_RATIO = 1 / 8
CUTOUT_RATIO = 1 / 2


def parse(policy: str) -> tuple[str, ...]:
  """'translation,cutout' -> the ops in their fixed order; '' -> () (off)."""
  names = [p.strip() for p in policy.split(",") if p.strip()]
  unknown = [n for n in names if n not in OPS]
  if unknown:
    raise ValueError(f"unknown DiffAugment op(s) {unknown}; choose from {OPS}")
  return tuple(op for op in OPS if op in names)


def valid(policy: str) -> bool:
  try:
    parse(policy)
  except (ValueError, AttributeError):
    return False
  return True


def max_shift(side: int) -> int:
  return int(side * TRANSLATION_RATIO + 0.5)


def cutout_size(side: int) -> int:
  return int(side * CUTOUT_RATIO + 0.5)


def draw(key: jax.Array, ops: tuple[str, ...], x_shape: tuple[int, ...]) -> dict[str, jax.Array]:
  """Per-example transform parameters for a batch of images of shape [B, H, W, C]."""
  b, h, w = x_shape[:3]
  k_color, k_shift, k_cut = jax.random.split(key, 3)
  out = {}
  if "color" in ops:
    kb, ks, kc = jax.random.split(k_color, 3)
    out["brightness"] = jax.random.uniform(kb, (b,), minval=-BRIGHTNESS, maxval=BRIGHTNESS)
    out["saturation"] = jax.random.uniform(ks, (b,), minval=0.0, maxval=2.0)
    out["contrast"] = jax.random.uniform(kc, (b,), minval=0.5, maxval=1.5)
  if "translation" in ops:
    s = jnp.array([max_shift(h), max_shift(w)])
    out["shift"] = jax.random.randint(k_shift, (b, 2), -s, s + 1)
  if "cutout" in ops:
    room = jnp.array([h - cutout_size(h), w - cutout_size(w)])
    out["cutout"] = jax.random.randint(k_cut, (b, 2), 0, room + 1)
  return out


def apply(x_BHWC: jax.Array, params: dict[str, jax.Array]) -> jax.Array:
  """The transforms described by `params` (from `draw`), example by example."""
  x = x_BHWC
  if "brightness" in params:
    x = x + params["brightness"][:, None, None, None]
    mean = jnp.mean(x, axis=-1, keepdims=True)
    x = (x - mean) * params["saturation"][:, None, None, None] + mean
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * params["contrast"][:, None, None, None] + mean
  if "shift" in params:
    x = _translate(x, params["shift"])
  if "cutout" in params:
    x = x * _cutout_mask(x.shape, params["cutout"])
  return x


def augment(key: jax.Array, x_BHWC: jax.Array, ops: tuple[str, ...]) -> jax.Array:
  """`apply(x, draw(key, ...))`: one random transform per example."""
  return apply(x_BHWC, draw(key, ops, x_BHWC.shape))


def _translate(x_BHWC, shift_B2):
  """Moves image i by shift_B2[i] = (down, right) pixels, filling with zeros."""
  _, h, w, c = x_BHWC.shape
  sh, sw = max_shift(h), max_shift(w)
  padded = jnp.pad(x_BHWC, ((0, 0), (sh, sh), (sw, sw), (0, 0)))

  def one(img, shift):
    return jax.lax.dynamic_slice(img, (sh - shift[0], sw - shift[1], 0), (h, w, c))
  return jax.vmap(one)(padded, shift_B2)


def _cutout_mask(x_shape, corner_B2):
  """[B, H, W, 1]: zero on the square of side cutout_size whose top-left is corner_B2[i]."""
  _, h, w, _ = x_shape
  rows = jnp.arange(h)[None, :] - corner_B2[:, :1]
  cols = jnp.arange(w)[None, :] - corner_B2[:, 1:]
  in_rows = (rows >= 0) & (rows < cutout_size(h))
  in_cols = (cols >= 0) & (cols < cutout_size(w))
  return 1.0 - (in_rows[:, :, None] & in_cols[:, None, :]).astype(jnp.float32)[..., None]
