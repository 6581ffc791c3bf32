"""The `traversal` evaluator: what each latent dimension does, most informative dimension first.

Row r of figures/traversal_sorted.png decodes one code with a single latent dimension swept
over `num_values` values (default 9) in [-limit, limit] (default 3), the others held fixed.
The code is an encoded held-out input (cfg.around = 'encoded', the default; needs `encode`
and `decode`) or a prior draw (cfg.around = 'prior'; needs `decode` or `generate`, so a GAN
can be traversed too). Rows are ordered by how much each dimension carries:
- with a Gaussian posterior (`posterior`, VAEs): the mean KL(q(z_d | x) || N(0, 1)) over
  held-out data, in nats, printed beside each row and returned as kl_dim_<rank> (rank 0 the
  largest) with dim_index_<rank>; a dimension is active when its KL exceeds
  `active_threshold` = 0.01 nats, and active_dims counts them (32 px sprites VAEs at beta
  1 and 4: switched-off dimensions measured 0.0007 to 0.003 nats, active ones 1.1 to 2.9);
- with a point encoder only (autoencoder): the held-out std of each code dimension
  (code_std_<rank>); the sweep is then in std units around the dimension's mean, since
  such codes have no prior to give the values a scale;
- with neither (a GAN's generator): dimension order, nothing to rank by.
On a dataset with ground-truth factors (any DatasetInfo.factor_names: sprites, dsprites,
shapes3d, mpi3d, the TFDS factor builds, celeb_a's attributes) and a family with an encoder,
each row is also labelled by the factor its dimension follows: the factor k with the
largest normalised mutual information I(z_d; f_k) / H(f_k) between the held-out codes
(binned into `num_bins` = 20 equal-width bins, as MIG bins them) and the factor; returned
as factor_index_<rank> and factor_nmi_<rank>.
Options (cfg): around, limit, num_values, example (held-out index, 0), num_eval (held-out
examples for the ranking; data.num_eval), active_threshold, seed (prior draws, 0), num_bins.
"""
from __future__ import annotations

import jax
import numpy as np

from genjax import viz
from genjax.core import family as contract
from genjax.errors import CapabilityError, ConfigError
from genjax.evals.context import EvalContext
from genjax.evals.interpolation import save_paths
from genjax.evals.latents import traversal_codes

ACTIVE_THRESHOLD = 0.01
NUM_BINS = 20
_LABEL_WIDTH = 96
_FACTOR_LABEL_WIDTH = 190


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  limit, num_values = float(cfg.get("limit", 3.0)), int(cfg.get("num_values", 9))
  values_V = np.linspace(-limit, limit, num_values, dtype=np.float32)
  z_D, decode = _start(ctx, cfg)
  dims = len(z_D)
  out, order_D, labels_D, stats = rank_dims(ctx, cfg, dims)
  if ctx.info.factor_names and contract.has(ctx.family, contract.Encoder):
    k_D, nmi_D = factor_of_dims(*codes_and_factors(ctx, cfg.get("num_eval", None)),
                                int(cfg.get("num_bins", NUM_BINS)))
    names = ctx.info.factor_names
    labels_D = [f"{label} ~ {names[k]} {m:.2f}" for label, k, m in zip(labels_D, k_D, nmi_D)]
    for rank, d in enumerate(order_D):
      out[f"factor_index_{rank}"] = int(k_D[d])
      out[f"factor_nmi_{rank}"] = float(nmi_D[d])
  if stats is not None:  # a code without a prior: sweep in std units around the mean
    mean_D, std_D = stats
    standardised = traversal_codes((z_D - mean_D) / np.maximum(std_D, 1e-12), values_V)
    codes_RD = (standardised * std_D + mean_D).astype(np.float32)
  else:
    codes_RD = traversal_codes(z_D, values_V)
  decoded = np.asarray(decode(ctx.state, codes_RD))
  decoded_DV = decoded.reshape(dims, num_values, *decoded.shape[1:])[order_D]
  out["num_dims"] = dims
  if jax.process_index() == 0:
    path = ctx.path("figures", "traversal_sorted.png")
    labels = [labels_D[d] for d in order_D]
    if ctx.info.kind == "image":
      grid = viz.image_grid(decoded_DV.reshape(dims * num_values, *decoded.shape[1:]),
                            ncol=num_values, upscale=viz.display_upscale(decoded.shape[1]))
      width = _FACTOR_LABEL_WIDTH if ctx.info.factor_names else _LABEL_WIDTH
      viz.save_png(path, label_rows(grid, labels, width))
    else:
      save_paths(path, decoded_DV, ctx.first_examples(2000)["x"], "latent traversal", labels)
  return out


def _start(ctx: EvalContext, cfg):
  """The code the sweep starts from [D] and the function that decodes codes."""
  around, fam = str(cfg.get("around", "encoded")), ctx.family
  if around == "encoded":
    decodes = contract.has(fam, contract.Decoder) or contract.has(fam, contract.Generator)
    if not contract.has(fam, contract.Encoder) and decodes:
      raise CapabilityError(
          f"evaluator 'traversal' sweeps around an encoded input, but model family "
          f"'{ctx.config.model.family}' has no encoder; sweep around a prior draw with "
          "--config.evals.traversal.around=prior")
    ctx.require(contract.Encoder, contract.Decoder, evaluator="traversal")
    example = int(cfg.get("example", 0))
    x = ctx.first_examples(example + 1)["x"][example:example + 1]
    return np.asarray(ctx.jit("encode")(ctx.state, x))[0], ctx.jit("decode")
  if around == "prior":
    if not (contract.has(fam, contract.Decoder) or contract.has(fam, contract.Generator)):
      raise CapabilityError(f"evaluator 'traversal' with around='prior' needs decode or "
                            f"generate; model family '{ctx.config.model.family}' has neither")
    rng = np.random.default_rng(int(cfg.get("seed", 0)))
    z_D = rng.standard_normal(int(fam.latent_dim)).astype(np.float32)
    return z_D, ctx.jit("decode" if contract.has(fam, contract.Decoder) else "generate")
  raise ConfigError(f"config.evals traversal around='{around}' is unknown; use 'encoded' "
                    "or 'prior'")


def rank_dims(ctx: EvalContext, cfg, dims: int):
  """Ranks dims by KL, code std or index.

  Returns:
    (numbers, dims in display order, a label per dim, the codes' (mean, std) [D] when the
    ranking is by code std, else None).
  """
  fam, num = ctx.family, cfg.get("num_eval", None)
  out: dict[str, float] = {}
  stats = None
  if contract.has(fam, contract.LatentPosterior):
    score_D = mean_kl_per_dim(ctx, num)
    threshold = float(cfg.get("active_threshold", ACTIVE_THRESHOLD))
    out["active_dims"] = int(np.sum(score_D > threshold))
    out["kl_total"] = float(score_D.sum())
    key, labels = "kl_dim", [f"z{d} KL {k:.3f}" for d, k in enumerate(score_D)]
  elif contract.has(fam, contract.Encoder):
    stats = code_stats(ctx, num)
    score_D = stats[1]
    key, labels = "code_std", [f"z{d} std {s:.2f}" for d, s in enumerate(score_D)]
  else:
    return out, np.arange(dims), [f"z{d}" for d in range(dims)], None
  order_D = np.argsort(-score_D, kind="stable")
  for rank, d in enumerate(order_D):
    out[f"{key}_{rank}"] = float(score_D[d])
    out[f"dim_index_{rank}"] = int(d)
  return out, order_D, labels, stats


def mean_kl_per_dim(ctx: EvalContext, num: int | None = None) -> np.ndarray:
  """Mean over held-out data of KL(q(z_d | x) || N(0, 1)) for each latent dim [D], in nats."""
  prior_kl = ctx.jit("prior_kl")
  terms = ctx.per_example(lambda state, batch, rng: {"kl": prior_kl(state, batch["x"])}, num)
  return terms["kl"].astype(np.float64).mean(0)


def code_stats(ctx: EvalContext, num: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Mean and std [D] of the encoder's codes over held-out data."""
  encode = ctx.jit("encode")
  z = ctx.per_example(lambda state, batch, rng: {"z": encode(state, batch["x"])}, num)["z"]
  return z.mean(0).astype(np.float32), z.std(0).astype(np.float32)


def codes_and_factors(ctx: EvalContext, num: int | None = None) -> tuple[np.ndarray, np.ndarray]:
  """The encoder's codes [N, D] and the factor indices [N, K] of held-out data."""
  encode = ctx.jit("encode")
  out = ctx.per_example(lambda state, batch, rng: {
      "z": encode(state, batch["x"]), "factors": batch["factors"]}, num)
  return out["z"], out["factors"]


def factor_of_dims(z_ND: np.ndarray, factors_NK: np.ndarray,
                   num_bins: int = NUM_BINS) -> tuple[np.ndarray, np.ndarray]:
  """For each code dimension, the factor it carries most of and how much.

  Args:
    z_ND: codes.
    factors_NK: integer factor indices of the same examples.
    num_bins: equal-width bins per code dimension over its observed range.

  Returns:
    (factor index [D], normalised mutual information [D] in [0, 1]): the largest
    I(z_d; f_k) / H(f_k) over factors k, from the empirical joint histogram (a factor
    constant over the data has H = 0 and scores 0).
  """
  z_ND, factors_NK = np.asarray(z_ND, np.float64), np.asarray(factors_NK, np.int64)
  n = len(z_ND)
  lo, hi = z_ND.min(0), z_ND.max(0)
  bins_ND = np.floor((z_ND - lo) / np.where(hi > lo, hi - lo, 1.0) * num_bins)
  bins_ND = np.clip(bins_ND, 0, num_bins - 1).astype(np.int64)
  nmi_DK = np.zeros((z_ND.shape[1], factors_NK.shape[1]))
  for k in range(factors_NK.shape[1]):
    _, f_N = np.unique(factors_NK[:, k], return_inverse=True)
    p_f = np.bincount(f_N) / n
    h_f = -np.sum(p_f * np.log(p_f))
    if h_f <= 0:
      continue
    for d in range(z_ND.shape[1]):
      joint = np.bincount(bins_ND[:, d] * len(p_f) + f_N,
                          minlength=num_bins * len(p_f)).reshape(num_bins, len(p_f)) / n
      p_z = joint.sum(1, keepdims=True)
      nz = joint > 0
      mi = np.sum(joint[nz] * np.log(joint[nz] / (p_z * p_f[None, :])[nz]))
      nmi_DK[d, k] = min(max(mi / h_f, 0.0), 1.0)  # 0 <= I <= H(f); clip rounding only
  return nmi_DK.argmax(1), nmi_DK.max(1)


def label_rows(grid_HW3: np.ndarray, labels: list[str], width: int = _LABEL_WIDTH) -> np.ndarray:
  """The grid with a white margin on its left holding one text label per row of images."""
  from PIL import Image, ImageDraw  # pylint: disable=g-import-not-at-top
  height = grid_HW3.shape[0]
  canvas = Image.new("RGB", (grid_HW3.shape[1] + width, height), "white")
  canvas.paste(Image.fromarray(grid_HW3), (width, 0))
  draw = ImageDraw.Draw(canvas)
  row_height = height / max(len(labels), 1)
  for r, text in enumerate(labels):
    draw.text((4, int((r + 0.5) * row_height) - 5), text, fill="black")
  return np.asarray(canvas)
