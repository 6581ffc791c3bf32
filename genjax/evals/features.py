"""The `features` evaluator: encoder features exported, and how linearly they reveal the truth.

Features are the encoder's codes (a VAE's posterior mean). Those of `num_test` held-out
examples go to evals/features.npz with the held-out targets. A linear probe, fit on the
features of the first `num_train` training examples and scored on the held-out ones, says
how much of the known truth a linear read-out finds:
- labelled data (digits): sklearn LogisticRegression (lbfgs, C = 1, max_iter 1000) on
  standardised features -> probe_accuracy; `labels_per_class` = n > 0 fits it on the first
  n training examples of each class only (a few-label probe);
- factor data (sprites, dsprites, shapes3d, mpi3d, TFDS factor builds, celeb_a's
  attributes): sklearn Ridge (alpha = 1) per factor value on standardised
  features -> held-out R^2 per factor (probe_r2_<name>) and their mean probe_r2. Linear
  R^2 undersells categorical shape and circular orientation, for pixels and codes alike, so
  each categorical factor (DatasetInfo.categorical_factors) also gets the logistic probe's
  held-out accuracy on its category (probe_acc_<name>, chance = 1 / its number of values).
The same probe on raw pixels (pixel_accuracy / pixel_r2) is the baseline a representation
should beat. Options (cfg): num_train (10,000), num_test (10,000; at most the split),
labels_per_class (0 = all), labels_seed (-1: the first examples of each class; >= 0: a
seeded random draw of them), C (1.0), alpha (1.0), chunk (256 images per encoder call).
"""
from __future__ import annotations

import os

import jax
import numpy as np

from genjax import data as gdata
from genjax.core import family as contract
from genjax.data.base import Source
from genjax.evals.context import EvalContext

# scikit-learn is imported inside the functions that use it: its import costs about a
# second, which every genjax command would otherwise pay through the evaluator registry.


def run(ctx: EvalContext, cfg) -> dict[str, float]:
  ctx.require(contract.Encoder, evaluator="features")
  chunk = int(cfg.get("chunk", 256))
  train = gdata.load(ctx.config.data, "train")
  train_idx = np.arange(min(int(cfg.get("num_train", 10_000)), len(train)))
  test_idx = np.arange(min(int(cfg.get("num_test", 10_000)), len(ctx.test)))
  per_class = int(cfg.get("labels_per_class", 0))
  if per_class > 0 and ctx.info.num_classes:
    train_idx = few_labels(train.get_batch(train_idx)["label"], per_class,
                           int(cfg.get("labels_seed", -1)))
  tr = encode_records(ctx, train, train_idx, chunk)
  te = encode_records(ctx, ctx.test, test_idx, chunk)

  out: dict[str, float] = {"num_train": len(train_idx), "num_test": len(test_idx),
                           "feature_dim": int(te["features"].shape[1])}
  if "label" in te:
    c = float(cfg.get("C", 1.0))
    out["probe_accuracy"] = probe_accuracy(tr["features"], tr["label"], te["features"],
                                           te["label"], c)
    out["pixel_accuracy"] = probe_accuracy(tr["pixels"], tr["label"], te["pixels"], te["label"], c)
  elif "factor_values" in te:
    alpha = float(cfg.get("alpha", 1.0))
    names = ctx.info.factor_names or tuple(str(k) for k in range(te["factor_values"].shape[1]))
    for prefix, key in (("probe", "features"), ("pixel", "pixels")):
      r2_K = probe_r2(tr[key], tr["factor_values"], te[key], te["factor_values"], alpha)
      out[f"{prefix}_r2"] = float(r2_K.mean())
      out.update({f"{prefix}_r2_{n}": float(r) for n, r in zip(names, r2_K)})
      for name in ctx.info.categorical_factors:
        k = names.index(name)
        out[f"{prefix}_acc_{name}"] = probe_accuracy(
            tr[key], tr["factors"][:, k], te[key], te["factors"][:, k], float(cfg.get("C", 1.0)))
  if jax.process_index() == 0:
    os.makedirs(ctx.path("evals"), exist_ok=True)
    # The dataset's name and factor names travel with the codes, so that studies read any
    # factor dataset's features without knowing which one it was.
    np.savez_compressed(ctx.path("evals", "features.npz"),
                        **{k: v for k, v in te.items() if k != "pixels"},
                        dataset=np.array(ctx.info.name),
                        factor_names=np.array(ctx.info.factor_names, dtype=str),
                        categorical_factors=np.array(ctx.info.categorical_factors, dtype=str))
  return out


def few_labels(labels_N: np.ndarray, per_class: int, seed: int = -1) -> np.ndarray:
  """Sorted indices of `per_class` examples of each class: the first ones in data order
  (seed < 0), or a uniform draw without replacement seeded by `seed`."""
  rng = np.random.default_rng(seed) if seed >= 0 else None
  keep = []
  for c in np.unique(labels_N):
    members = np.flatnonzero(labels_N == c)
    keep.append(members[:per_class] if rng is None else
                rng.choice(members, min(per_class, len(members)), replace=False))
  return np.sort(np.concatenate(keep))


def encode_records(ctx: EvalContext, source: Source, indices_N: np.ndarray,
                   chunk: int) -> dict[str, np.ndarray]:
  """Features [N, D], flat pixels [N, X] and any targets of the records at `indices_N`.

  Every encoder call sees `chunk` examples (the last chunk padded), so it compiles once.
  """
  encode = ctx.jit("encode")
  parts: dict[str, list] = {}
  for start in range(0, len(indices_N), chunk):
    idx = indices_N[start:start + chunk]
    rec = source.get_batch(idx)
    pad = chunk - len(idx)
    x = np.concatenate([rec["x"], np.repeat(rec["x"][:1], pad, 0)]) if pad else rec["x"]
    rec = {k: v for k, v in rec.items() if k in ("label", "factors", "factor_values")}
    rec["features"] = np.asarray(encode(ctx.state, x))[:len(idx)]
    rec["pixels"] = x[:len(idx)].reshape(len(idx), -1)
    for k, v in rec.items():
      parts.setdefault(k, []).append(v)
  return {k: np.concatenate(v) for k, v in parts.items()}


def probe_accuracy(f_train_NF, y_train_N, f_test_MF, y_test_M, c: float = 1.0) -> float:
  """Held-out accuracy of a logistic-regression probe on standardised features."""
  from sklearn import linear_model, pipeline, preprocessing  # pylint: disable=g-import-not-at-top
  probe = pipeline.make_pipeline(preprocessing.StandardScaler(),
                                 linear_model.LogisticRegression(C=c, max_iter=1000))
  probe.fit(f_train_NF, y_train_N)
  return float(probe.score(f_test_MF, y_test_M))


def probe_r2(f_train_NF, v_train_NK, f_test_MF, v_test_MK, alpha: float = 1.0) -> np.ndarray:
  """Held-out R^2 [K] of a ridge probe per target column on standardised features."""
  from sklearn import (linear_model, metrics, pipeline,  # pylint: disable=g-import-not-at-top
                       preprocessing)
  probe = pipeline.make_pipeline(preprocessing.StandardScaler(), linear_model.Ridge(alpha=alpha))
  probe.fit(f_train_NF, v_train_NK)
  return metrics.r2_score(v_test_MK, probe.predict(f_test_MF), multioutput="raw_values")
