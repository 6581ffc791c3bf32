"""The `translation` evaluator: held-out translations against the truth, and the identity's.

For each held-out x the model's translation y_hat = translate(x) is compared with x's true
counterpart (y for paired data, y_true for unpaired data, whose y is an unrelated image):
the mean absolute error and the PSNR (10 log10(1 / MSE) for images in [0, 1], averaged
over images). The same numbers for the identity mapping (x itself, brought to y's channel
count) are the baseline a model must beat. Writes figures/translation.png: rows of inputs,
translations and truths. `translate_and_save` serves `genjax translate` on any images.
"""
from __future__ import annotations

import jax
import numpy as np

from genjax import viz
from genjax.core import family as contract
from genjax.evals.context import EvalContext

_NUM_FIGURE = 8
_MIN_MSE = 1e-10  # caps the PSNR of a perfect match at 100 dB


def to_channels(x_NHWC: np.ndarray, channels: int) -> np.ndarray:
  """Grey -> colour by repetition, colour -> grey by the channel mean; else unchanged."""
  have = x_NHWC.shape[-1]
  if have == channels:
    return x_NHWC
  if have == 1:
    return np.repeat(x_NHWC, channels, axis=-1)
  if channels == 1:
    return x_NHWC.mean(axis=-1, keepdims=True)
  raise ValueError(f"cannot convert {have}-channel images to {channels} channels")


def image_errors(pred_NHWC: np.ndarray, truth_NHWC: np.ndarray) -> dict[str, np.ndarray]:
  """Per-image mean absolute error and PSNR in dB (images in [0, 1])."""
  diff = np.asarray(pred_NHWC, np.float64) - np.asarray(truth_NHWC, np.float64)
  axes = tuple(range(1, diff.ndim))
  mse = np.maximum(np.mean(diff**2, axis=axes), _MIN_MSE)
  return {"l1": np.mean(np.abs(diff), axis=axes), "psnr": -10.0 * np.log10(mse)}


def _truth_key(batch: dict) -> str:
  return "y_true" if "y_true" in batch else "y"


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  """L1 and PSNR of translate(x) and of the identity against the truth, over data.num_eval."""
  del cfg
  ctx.require(contract.Translator, evaluator="translation")
  translate = ctx.jit("translate")

  def errors(state, batch, rng):
    del rng
    y_hat = translate(state, batch["x"])
    return {"model": y_hat, "truth": batch[_truth_key(batch)], "x": batch["x"]}

  # Images come back to the host: the figure needs them and the baseline is host arithmetic.
  out = ctx.per_example(errors)
  truth = out["truth"]
  model = image_errors(out["model"], truth)
  identity = image_errors(to_channels(out["x"], truth.shape[-1]), truth)
  if jax.process_index() == 0:
    save_strips(ctx.path("figures", "translation.png"), out["x"][:_NUM_FIGURE],
                out["model"][:_NUM_FIGURE], truth[:_NUM_FIGURE])
  return {"l1": float(model["l1"].mean()), "psnr": float(model["psnr"].mean()),
          "identity_l1": float(identity["l1"].mean()),
          "identity_psnr": float(identity["psnr"].mean()), "num_examples": int(len(truth))}


def save_strips(path: str, x_NHWC: np.ndarray, y_hat_NHWC: np.ndarray,
                truth_NHWC: np.ndarray | None = None) -> str:
  """A grid with a row of inputs, a row of translations and (if given) a row of truths."""
  channels = max(x_NHWC.shape[-1], y_hat_NHWC.shape[-1])
  rows = [to_channels(np.asarray(x_NHWC), channels), to_channels(np.asarray(y_hat_NHWC), channels)]
  if truth_NHWC is not None:
    rows.append(to_channels(np.asarray(truth_NHWC), channels))
  return viz.save_image_grid(path, np.concatenate(rows), ncol=len(x_NHWC))


def translate_and_save(ctx: EvalContext, x_NHWC: np.ndarray, path: str,
                       direction: str = "AtoB") -> np.ndarray:
  """Translates images with the trained model and saves input | output strips (for the CLI).

  Args:
    ctx: the trained run's context (`session.load_trained(workdir)[1]`).
    x_NHWC: float32 images in [0, 1] shaped like the model's inputs for `direction`.
    path: the PNG to write (eight images per strip; several strips for more).
    direction: 'AtoB', or 'BtoA' for families that learn both (cyclegan).

  Returns:
    The translations [N, H, W, C'] as a numpy array.
  """
  ctx.require(contract.Translator, evaluator="translate")
  translate = ctx.jit("translate", static_argnames=("direction",))
  x_NHWC = np.asarray(x_NHWC, np.float32)
  chunk = int(ctx.config.data.eval_batch_size)
  y_hat = np.concatenate([np.asarray(translate(ctx.state, x_NHWC[i:i + chunk], direction=direction))
                          for i in range(0, len(x_NHWC), chunk)])
  if jax.process_index() == 0:
    channels = max(x_NHWC.shape[-1], y_hat.shape[-1])
    strips = [np.concatenate([to_channels(x_NHWC[i:i + _NUM_FIGURE], channels),
                              to_channels(y_hat[i:i + _NUM_FIGURE], channels)])
              for i in range(0, len(x_NHWC), _NUM_FIGURE)]
    ncol = min(_NUM_FIGURE, len(x_NHWC))
    viz.save_image_grid(path, np.concatenate([_pad_to(s, 2 * ncol) for s in strips]), ncol=ncol)
  return y_hat


def _pad_to(strip_NHWC: np.ndarray, num: int) -> np.ndarray:
  """A short last strip keeps its input and output rows aligned by padding each with white."""
  half = len(strip_NHWC) // 2
  if half * 2 == num:
    return strip_NHWC
  blank = np.ones((num // 2 - half,) + strip_NHWC.shape[1:], strip_NHWC.dtype)
  return np.concatenate([strip_NHWC[:half], blank, strip_NHWC[half:], blank])
