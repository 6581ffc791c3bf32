"""The `interpolation` evaluator: decodings along a path between two codes.

Two kinds of path, chosen by what the family can do:
- `encode` + `decode` (VAE, autoencoder): between the codes of two held-out inputs, on the
  straight line (a Gaussian latent space is convex; White 2016 prefers spheres only for
  samples of a high-dimensional prior, which encoded inputs need not be);
- `ode_encode` + `ode_decode` (diffusion: the probability-flow ODE's deterministic map
  between data and noise): two held-out inputs are encoded into noise, the noise codes are
  joined on the great circle with the norm going linearly from one end's to the other's
  (`polar_interpolation`: DDIM's slerp, made safe for codes of unequal norm, which low-
  dimensional codes always are) and decoded along the ODE;
- `generate(state, z, cond=None)` (GAN): between two prior draws z0, z1 ~ N(0, I), on the
  great circle (spherical interpolation, White 2016), which keeps intermediate codes near
  the norm the generator was trained on instead of cutting through the low-norm interior
  (a straight line's midpoint between two draws has about 0.71 times their norm).

Writes figures/interpolation.png (a row per pair; inputs framing the decodings when there
are inputs) and evals/interpolation.npz (codes z_PTD, frames, and inputs when there are).
Numbers: smoothness = mean L2 distance between consecutive frames; max_step_ratio = the
largest step over the mean step (1 for an even path, large when the output jumps);
path_ratio = path length over the direct distance between the end frames; and for
encoded inputs the endpoints' reconstruction error (mean squared error per dimension);
spherical says which path was taken.
Options (cfg): num_pairs (4), num_steps (10 frames, endpoints included), seed (0).
"""
from __future__ import annotations

import os

import jax
import numpy as np

from genjax import viz
from genjax.core import family as contract
from genjax.errors import CapabilityError
from genjax.evals.context import EvalContext
from genjax.evals.latents import linear_interpolation


def slerp(z0_D: np.ndarray, z1_D: np.ndarray, num: int) -> np.ndarray:
  """[num, D] points of White's spherical interpolation from z0 to z1, endpoints exact.

  p(t) = sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1, w the angle between z0 and z1;
  the straight line when they are (anti)parallel, where the great circle is not unique.
  """
  z0, z1 = np.asarray(z0_D, np.float64), np.asarray(z1_D, np.float64)
  t_T1 = np.linspace(0.0, 1.0, num)[:, None]
  cos = np.clip(z0 @ z1 / max(np.linalg.norm(z0) * np.linalg.norm(z1), 1e-12), -1.0, 1.0)
  omega = np.arccos(cos)
  if np.sin(omega) < 1e-6:
    return ((1 - t_T1) * z0 + t_T1 * z1).astype(np.float32)
  w0_T1 = np.sin((1 - t_T1) * omega) / np.sin(omega)
  w1_T1 = np.sin(t_T1 * omega) / np.sin(omega)
  return (w0_T1 * z0 + w1_T1 * z1).astype(np.float32)


def polar_interpolation(z0_D: np.ndarray, z1_D: np.ndarray, num: int) -> np.ndarray:
  """[num, D] codes from z0 to z1: the direction on the great circle between their unit
  vectors (`slerp`), the norm linearly between their norms; endpoints exact.

  For noise codes of unequal norm. `slerp` of the raw codes swells between nearly opposite
  codes of different norms (sin(w) -> 0 in its denominators: norms of 10x the ends in 2D),
  which decodes into the far tails; here every code's norm stays between the ends' norms,
  so a path between two typical codes stays typical, in 2 dims as in 3,072.
  """
  z0, z1 = np.asarray(z0_D, np.float64), np.asarray(z1_D, np.float64)
  r0, r1 = np.linalg.norm(z0), np.linalg.norm(z1)
  direction_TD = slerp(z0 / max(r0, 1e-12), z1 / max(r1, 1e-12), num).astype(np.float64)
  direction_TD /= np.maximum(np.linalg.norm(direction_TD, axis=-1, keepdims=True), 1e-12)
  t_T1 = np.linspace(0.0, 1.0, num)[:, None]
  out = direction_TD * ((1 - t_T1) * r0 + t_T1 * r1)
  out[0], out[-1] = z0, z1
  return out.astype(np.float32)


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  num_pairs, num_steps = int(cfg.get("num_pairs", 4)), int(cfg.get("num_steps", 10))
  fam = ctx.family
  out: dict[str, float] = {"num_pairs": num_pairs, "num_steps": num_steps}
  arrays = {}
  encoder = decoder = None
  if contract.has(fam, contract.Encoder, contract.Decoder):
    encoder, decoder, spherical = ctx.jit("encode"), ctx.jit("decode"), False
  elif contract.has(fam, contract.ProbabilityFlow):
    encoder, decoder, spherical = ctx.jit("ode_encode"), ctx.jit("ode_decode"), True
  if encoder is not None:
    x = ctx.first_examples(2 * num_pairs)["x"]
    if len(x) < 2 * num_pairs:
      raise CapabilityError(f"evaluator 'interpolation' needs {2 * num_pairs} held-out inputs; "
                            f"the test split has {len(x)}: lower num_pairs")
    x0, x1 = x[:num_pairs], x[num_pairs:]
    z0_PD = np.asarray(encoder(ctx.state, x0)).reshape(num_pairs, -1)
    z1_PD = np.asarray(encoder(ctx.state, x1)).reshape(num_pairs, -1)
    path = (polar_interpolation if spherical
            else (lambda a, b, n: np.asarray(linear_interpolation(a, b, n))))
    z_PTD = np.stack([path(a, b, num_steps) for a, b in zip(z0_PD, z1_PD)])
    frames = _decode(ctx, decoder, z_PTD, x0.shape[1:] if spherical else None)
    ends = np.stack([frames[:, 0], frames[:, -1]], 1)
    out["endpoint_mse_per_dim"] = float(np.mean((ends - np.stack([x0, x1], 1)) ** 2))
    out["spherical"] = spherical
    arrays.update(x0=x0, x1=x1)
  elif contract.has(fam, contract.Generator):
    rng = np.random.default_rng(int(cfg.get("seed", 0)))
    dim = int(fam.latent_dim)
    z0_PD, z1_PD = rng.standard_normal((2, num_pairs, dim), dtype=np.float32)
    z_PTD = np.stack([slerp(a, b, num_steps) for a, b in zip(z0_PD, z1_PD)])
    frames = _decode(ctx, ctx.jit("generate"), z_PTD)
    out["spherical"] = True
  else:
    raise CapabilityError(f"evaluator 'interpolation' needs encode + decode, the probability-"
                          f"flow ODE or generate, and model family '{ctx.config.model.family}' "
                          "has none of them; drop it from --evals")
  out.update(path_numbers(frames))
  arrays.update(z_PTD=z_PTD, frames=frames)
  if jax.process_index() == 0:
    _save(ctx, frames, arrays)
  return out


def path_numbers(frames_PT: np.ndarray) -> dict[str, float]:
  """Smoothness numbers of decoded paths [P, T, ...] (see the module docstring)."""
  flat = frames_PT.reshape(frames_PT.shape[0], frames_PT.shape[1], -1).astype(np.float64)
  step_PS = np.linalg.norm(np.diff(flat, axis=1), axis=-1)
  direct_P = np.linalg.norm(flat[:, -1] - flat[:, 0], axis=-1)
  mean_P = step_PS.mean(1)
  return {"smoothness": float(step_PS.mean()),
          "max_step_ratio": float(np.mean(step_PS.max(1) / np.maximum(mean_P, 1e-12))),
          "path_ratio": float(np.mean(step_PS.sum(1) / np.maximum(direct_P, 1e-12)))}


def _decode(ctx: EvalContext, fn, z_PTD: np.ndarray, code_shape=None) -> np.ndarray:
  """fn's decodings of the codes [P, T, D], each first reshaped to code_shape if given (the
  ODE's noise has the data's shape)."""
  p, t, d = z_PTD.shape
  x = np.asarray(fn(ctx.state, z_PTD.reshape((p * t,) + tuple(code_shape or (d,)))))
  return x.reshape(p, t, *x.shape[1:])


def _save(ctx: EvalContext, frames, arrays: dict) -> None:
  os.makedirs(ctx.path("evals"), exist_ok=True)
  np.savez_compressed(ctx.path("evals", "interpolation.npz"), **arrays)
  path = ctx.path("figures", "interpolation.png")
  if ctx.info.kind != "image":
    save_paths(path, frames, ctx.first_examples(2000)["x"], "interpolation")
    return
  rows = frames
  if "x0" in arrays:  # each row: input, decodings, input
    rows = np.concatenate([arrays["x0"][:, None], frames, arrays["x1"][:, None]], 1)
  viz.save_image_grid(path, rows.reshape(-1, *rows.shape[2:]), ncol=rows.shape[1])


def save_paths(path: str, paths_PTX: np.ndarray, reference_MX: np.ndarray | None = None,
               title: str = "", labels: list[str] | None = None) -> str:
  """Paths through a vector data space, drawn in its first two coordinates over the data."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=100)
  if reference_MX is not None:
    ax.scatter(reference_MX[:, 0], reference_MX[:, 1], s=1, c="0.8")
  for i, p in enumerate(paths_PTX):
    ax.plot(p[:, 0], p[:, 1], "-o", ms=2, lw=1, label=labels[i] if labels else None)
  if labels:
    ax.legend(fontsize=6, loc="upper right")
  ax.set_title(title)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
  return path
