"""Periodic figures of a run: samples, reconstructions next to inputs, latent traversals.

Each figure is drawn only when the family has the capability it needs (`sample`,
`encode` + `decode`), so the runner stays ignorant of model types.
"""
from __future__ import annotations

import jax
import numpy as np

from genjax import viz
from genjax.core import family as contract
from genjax.evals import translation
from genjax.evals.context import EvalContext
from genjax.evals.latents import traversal_codes

TRAVERSAL_VALUES = np.linspace(-3.0, 3.0, 9, dtype=np.float32)
_NUM_RECON = 8


def write_figures(ctx: EvalContext) -> list[str]:
  """Writes the figures the family supports under figures/; returns their paths."""
  written = []
  rng_sample = jax.random.fold_in(ctx.rng, ctx.step)
  if contract.has(ctx.family, contract.Translator):  # no prior to sample: show held-out translations
    x = ctx.first_examples(_NUM_RECON)["x"]
    path = ctx.path("figures", "translations.png")
    translation.translate_and_save(ctx, x, path)
    return [path]
  if contract.has(ctx.family, contract.Sampler):
    written.append(write_samples(ctx, rng_sample, ctx.config.train.num_figure_samples))
  if ctx.info.kind == "image" and contract.has(ctx.family, contract.Encoder, contract.Decoder):
    written += [_reconstructions(ctx), _traversal(ctx)]
  return [p for p in written if p]


def write_samples(ctx: EvalContext, rng: jax.Array, num: int, name: str = "samples",
                  cond=None) -> str:
  """Draws `num` samples (no encoder involved) and saves a grid or a scatter plot."""
  sample = ctx.jit("sample", static_argnums=(2,))
  x = np.asarray(sample(ctx.state, rng, num, ctx.hp, cond))
  path = ctx.path("figures", f"{name}.png")
  if jax.process_index() != 0:
    return path
  if ctx.info.kind == "image":
    return viz.save_image_grid(path, x, ncol=int(np.ceil(np.sqrt(num))))
  reference = ctx.first_examples(2000)["x"]
  return viz.save_scatter(path, x[:, :2], reference[:, :2], title=f"step {ctx.step}")


def _reconstructions(ctx: EvalContext) -> str:
  x = ctx.first_examples(_NUM_RECON)["x"]
  encode, decode = ctx.jit("encode"), ctx.jit("decode")
  recon = np.asarray(decode(ctx.state, encode(ctx.state, x)))
  path = ctx.path("figures", "reconstructions.png")
  if jax.process_index() == 0:
    viz.save_image_grid(path, np.concatenate([x, recon]), ncol=len(x))
  return path


def _traversal(ctx: EvalContext) -> str:
  """One row per latent dimension, its value swept over [-3, 3] around an encoded input."""
  x = ctx.first_examples(1)["x"]
  encode, decode = ctx.jit("encode"), ctx.jit("decode")
  z = np.asarray(encode(ctx.state, x))[0]
  images = np.asarray(decode(ctx.state, traversal_codes(z, TRAVERSAL_VALUES)))
  path = ctx.path("figures", "traversal.png")
  if jax.process_index() == 0:
    viz.save_image_grid(path, images, ncol=len(TRAVERSAL_VALUES))
  return path
