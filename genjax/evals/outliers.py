"""The `outliers` evaluator: does a model's score tell held-out data from out-of-distribution data?

Each example gets an outlier score, higher meaning less typical of the training data:
- a likelihood model: its bound on -log p(x) in nats (`log_prob_bound`: a VAE's one-sample
  negative ELBO, a diffusion model's bound); a VAE with cfg.k > 1 uses -IWAE_k instead;
  a diffusion model with cfg.score='ode' uses its exact -log p(x) along the probability-flow
  ODE (`ode_nll`: the model's solver tolerances, Hutchinson's divergence above 16 dims,
  images uniformly dequantised), slower than the bound but free of its slack;
- an autoencoder: the squared reconstruction error of decode(encode(x));
- a GAN: the negative discriminator logit (`discriminate`).
Held-out in-distribution examples (label 0) are compared with an out-of-distribution set
(label 1) named by cfg.ood:
- 'noise': uniform noise of the data's shape (vectors: uniform over the held-out box);
- 'digits' / 'sprites': the other embedded dataset's held-out images resized to the model's
  image shape (integer factors: nearest repetition up, area averages down; channels
  repeated or averaged); the default is the dataset the model was not trained on (digits
  for dsprites; noise for every other dataset);
- 'classes:3,5': held-out examples of those classes, against held-out examples of the
  classes in cfg.in_classes (default: all others). The data pipeline cannot drop classes
  from training, so this tests a held-out-class model only when its run was trained on
  data without those classes (e.g. a TFDS dataset prepared that way); on a model trained on
  all digits it measures how much its score separates the classes.
Options (cfg): ood, num_examples, seed, in_classes, k, chunk, score ('auto': the list
above; 'ode': the probability-flow ODE's likelihood).
Reported: AUROC and AUPRC (outliers as the positive class; sklearn.metrics), the mean
scores of both sets, and a histogram, figures/outlier_scores.png.
"""
from __future__ import annotations

import dataclasses
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from genjax.core import family as contract
from genjax.data import digits, sprites
from genjax.data.base import ArraySource
from genjax.errors import ConfigError
from genjax.evals import likelihood
from genjax.evals.context import EvalContext

_SCORES = ("auto", "ode")
_OTHER_DATASET = {"sprites": "digits", "dsprites": "digits", "digits": "sprites"}


def resize_images(x_NHWC: np.ndarray, shape_HWC: tuple[int, int, int]) -> np.ndarray:
  """Resizes images with numpy: nearest repetition for integer upscales, area means for
  integer downscales, nearest sampling otherwise; 1 channel repeated or C averaged."""
  x = np.asarray(x_NHWC, np.float32)
  for axis, size in ((1, shape_HWC[0]), (2, shape_HWC[1])):
    src = x.shape[axis]
    if size % src == 0:
      x = np.repeat(x, size // src, axis=axis)
    elif src % size == 0:
      shape = x.shape[:axis] + (size, src // size) + x.shape[axis + 1:]
      x = x.reshape(shape).mean(axis=axis + 1)
    else:
      x = np.take(x, ((np.arange(size) + 0.5) * src / size).astype(int), axis=axis)
  channels = shape_HWC[2]
  if x.shape[-1] != channels:
    x = np.repeat(x, channels, -1) if x.shape[-1] == 1 else x.mean(-1, keepdims=True)
  if x.shape[-1] != channels:
    raise ConfigError(f"cannot map {x_NHWC.shape[-1]}-channel images to {channels} channels")
  return x


def parse_classes(text: str) -> list[int]:
  try:
    return [int(c) for c in str(text).split(",") if c.strip()]
  except ValueError:
    raise ConfigError(f"class list '{text}' must be comma-separated integers, e.g. '3,5'") from None


def ood_sets(ctx: EvalContext, cfg) -> tuple[np.ndarray, np.ndarray, str]:
  """(in-distribution x, out-of-distribution x, OOD name) for cfg.ood."""
  info, data_name = ctx.info, ctx.config.data.name
  name = str(cfg.get("ood", "") or _OTHER_DATASET.get(data_name, "noise"))
  num = int(cfg.get("num_examples", ctx.config.data.num_eval))
  rng = np.random.default_rng(int(cfg.get("seed", 0)))
  held = ctx.first_examples(num)
  if name.startswith("classes:"):
    if "label" not in held:
      raise ConfigError(f"outliers ood='{name}' needs labelled data; '{data_name}' has none")
    out_classes = parse_classes(name.partition(":")[2])
    in_classes = (parse_classes(cfg.in_classes) if cfg.get("in_classes", "")
                  else [c for c in range(info.num_classes) if c not in out_classes])
    return (held["x"][np.isin(held["label"], in_classes)],
            held["x"][np.isin(held["label"], out_classes)], name)
  x_in = held["x"]
  if name == "noise":
    if info.kind == "image":
      noise = rng.uniform(size=(len(x_in),) + tuple(info.x_shape))
    else:
      noise = rng.uniform(x_in.min(0), x_in.max(0), size=x_in.shape)
    return x_in, noise.astype(np.float32), name
  if name not in ("digits", "sprites"):
    raise ConfigError(f"evals outliers: ood='{name}' is unknown; use noise, digits, sprites or "
                      "classes:A,B")
  if info.kind != "image" or name == data_name:
    raise ConfigError(f"outliers ood='{name}' needs an image model trained on other data; this "
                      f"one is trained on '{data_name}'")
  if name == "digits":
    empty = ml_collections.ConfigDict(dict(upscale=1, num_train=0, num_test=0))
    x_ood = digits.load(empty, "test").arrays["x"][:num]
  else:
    side = max(int(info.x_shape[0]), 8)
    x_ood = sprites.render(sprites.factors_from_indices(sprites.split_indices("test")[:num]), side)
  return x_in, resize_images(x_ood, tuple(info.x_shape)), name


def score_fn(ctx: EvalContext, cfg):
  """(score name, fn(state, batch, rng) -> [B] scores, higher = more outlying)."""
  family = ctx.family
  score = str(cfg.get("score", "auto"))
  if score not in _SCORES:
    raise ConfigError(f"evals outliers: score='{score}' is unknown; use one of {_SCORES}")
  if score == "ode":
    ctx.require(contract.ProbabilityFlow, evaluator="outliers with score='ode'")
    nll = jax.jit(lambda state, batch, rng: family.ode_nll(state, batch, rng)["nll"])
    return "-log p(x) by the probability-flow ODE (nats)", nll
  k = int(cfg.get("k", 1))
  if k > 1 and contract.has(family, contract.LatentPosterior):
    chunk = int(cfg.get("chunk", 0)) or likelihood.default_chunk(
        k, ctx.config.data.eval_batch_size, ctx.info.num_dims, 1 << 23)
    bounds = likelihood.make_iwae_fn(ctx, k, chunk)
    return f"-iwae_{k} (nats)", lambda state, batch, rng: -bounds(state, batch["x"], rng)[1]
  if not contract.has(family, contract.LogProbBound):
    if contract.has(family, contract.Encoder, contract.Decoder):
      recon = jax.jit(lambda state, x: family.decode(state, family.encode(state, x)))

      def sq_err(state, batch, rng):
        del rng
        x = batch["x"]
        return jnp.sum((recon(state, x) - x).reshape(x.shape[0], -1) ** 2, -1)
      return "reconstruction squared error", sq_err
    if contract.has(family, contract.Discriminator):
      if contract.num_classes(family):
        raise ConfigError("evaluator 'outliers' scores with an unconditional discriminator; "
                          "this GAN is label-conditional")
      disc = ctx.jit("discriminate")
      return "-discriminator logit", lambda state, batch, rng: -disc(state, {"x": batch["x"]})
  ctx.require(contract.LogProbBound, evaluator="outliers")
  return "-log p(x) bound (nats)", ctx.jit("log_prob_bound")


def score_examples(ctx: EvalContext, fn, x_NX: np.ndarray) -> np.ndarray:
  """fn's scores [N] for arbitrary inputs, fed in the context's eval batches (padded)."""
  b = ctx.config.data.eval_batch_size
  n = len(x_NX)
  padded = np.concatenate([x_NX, np.repeat(x_NX[-1:], -n % b, axis=0)])
  source = ArraySource(info=ctx.info, arrays={"x": padded.astype(np.float32)})
  sub = dataclasses.replace(ctx, test=source)
  return sub.per_example(lambda state, batch, rng: {"s": fn(state, batch, rng)},
                         len(padded))["s"][:n].astype(np.float64)


def separation(s_in_N: np.ndarray, s_ood_M: np.ndarray) -> dict[str, float]:
  """AUROC and AUPRC of scores (outliers positive, higher score = more outlying).

  Args:
    s_in_N: in-distribution scores.
    s_ood_M: out-of-distribution scores.

  Returns:
    auroc (1: perfectly separated, 0.5: no better than chance), auprc and its chance level
    (the outliers' share).
  """
  from sklearn import metrics  # pylint: disable=g-import-not-at-top  # slow import, on use
  labels = np.concatenate([np.zeros(len(s_in_N)), np.ones(len(s_ood_M))])
  scores = np.concatenate([s_in_N, s_ood_M])
  return {"auroc": float(metrics.roc_auc_score(labels, scores)),
          "auprc": float(metrics.average_precision_score(labels, scores)),
          "auprc_chance": float(labels.mean())}


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  x_in, x_ood, ood_name = ood_sets(ctx, cfg)
  if not len(x_in) or not len(x_ood):
    raise ConfigError(f"outliers ood='{ood_name}' left an empty in- or out-of-distribution set")
  score_name, fn = score_fn(ctx, cfg)
  s_in, s_ood = score_examples(ctx, fn, x_in), score_examples(ctx, fn, x_ood)
  out = separation(s_in, s_ood)
  out.update({
      "score_in_mean": float(s_in.mean()),
      "score_ood_mean": float(s_ood.mean()),
      "num_in": int(len(s_in)),
      "num_ood": int(len(s_ood)),
  })
  if jax.process_index() == 0:
    _histogram(ctx.path("figures", "outlier_scores.png"), s_in, s_ood, score_name,
               f"{ctx.config.data.name} vs {ood_name}: AUROC {out['auroc']:.3f}")
  return out


def _histogram(path: str, s_in: np.ndarray, s_ood: np.ndarray, xlabel: str, title: str) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(path), exist_ok=True)
  both = np.concatenate([s_in, s_ood])
  both = both[np.isfinite(both)]
  fig, ax = plt.subplots(figsize=(5, 3.2), dpi=100)
  bins = np.histogram_bin_edges(both, bins=50) if len(both) else 50
  if len(both) and both.min() > 0 and both.max() > 100 * both.min():
    # Noise can score 100x the data: log bins keep the held-out histogram visible.
    bins = np.geomspace(both.min(), both.max(), 51)
    ax.set_xscale("log")
  # Shares per bin rather than densities: a density divides by the bin width, which on
  # log bins would flatten the far (wide-binned) set to nothing.
  ax.hist(s_in, bins=bins, alpha=0.6, weights=np.full(len(s_in), 1 / len(s_in)),
          label=f"held-out ({len(s_in)})")
  ax.hist(s_ood, bins=bins, alpha=0.6, weights=np.full(len(s_ood), 1 / len(s_ood)),
          label=f"out-of-distribution ({len(s_ood)})")
  ax.set_xlabel(xlabel)
  ax.set_ylabel("share of examples")
  ax.set_title(title, fontsize=9)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
