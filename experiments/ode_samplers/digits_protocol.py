"""The digits side of the sampler comparison: the judge's class histogram, confidence and FD.

Every number comes from the evaluators' own functions: the judge is the classifier the
`class_modes` and `quality` evaluators use (trained once into the cache on first use,
`genjax.train.judge`), the classes are `class_modes.judged_classes` and
`class_modes.histogram_stats` (classes covered, KL of the histogram to uniform), the
features are `quality.embedder`'s and the Frechet distance, precision and recall are
`quality.compare` against the held-out digits (the test split, 297 for digits):
- `fd`: all the row's samples against the held-out digits (lower variance than quality's);
- `fd_eq`, `precision`, `recall`: the row's first samples, as many as the held-out digits,
  exactly quality's protocol (its sizes; only the noise stream differs).
`confidence` is the mean of the judge's largest softmax probability over the samples (1 for
digits it is sure of; blurred or ambiguous samples lower it); the evaluators do not report
it. The `data` row judges as many training digits as --num (capped at the split) the same
way: the floor a perfect sampler would reach at these sample sizes.
"""
from __future__ import annotations

import os

import jax
import ml_collections
import numpy as np

from genjax.evals import class_modes, judge, quality
from genjax.train import judge as train_judge
from genjax.train import runner
from genjax import viz

_FIGURE_COLUMNS = 16


def applies(ctx) -> bool:
  """Whether the run's data are judged by the digits classifier."""
  return ctx.config.data.name in judge.DIGITS_LIKE


class DigitsProtocol:
  """Judged class histogram, confidence and judge-feature FD / precision / recall."""
  chunk = 500  # the DDPM reference's smaller sample count still shares the others' noise
  ode_points = 33  # ode_nll on held-out digits costs about a second each
  header = ["| sampler | steps | samples | network calls | classes | KL to uniform | "
            "confidence | FD | FD (quality's sizes) | precision | recall | seconds |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]

  def __init__(self, session, ctx, num: int):
    side = int(ctx.info.x_shape[0])
    cfg = ml_collections.ConfigDict({"cache_dir": ""})
    cfg.judge = train_judge.trained_judge(side, cfg, runner.train_and_evaluate)
    self.judge = judge.load(ctx, cfg, "class_modes")
    self.embed, _ = quality.embedder(ctx, cfg, "features", "quality")
    self.held_out = ctx.first_examples(len(ctx.test))["x"]
    self.real_NF = self.embed(self.held_out)
    self.train_x = session.train.get_batch(np.arange(min(num, len(session.train))))["x"]
    self._logits = jax.jit(self.judge.family.logits)

  def confidence(self, x_NHWC: np.ndarray, batch: int = 1000) -> float:
    """Mean over samples (and channels) of the judge's largest class probability."""
    per_channel = np.moveaxis(x_NHWC, -1, 0).reshape(-1, *x_NHWC.shape[1:3], 1)
    top = [np.asarray(jax.nn.softmax(self._logits(self.judge.state, per_channel[i:i + batch]))
                      ).max(-1) for i in range(0, len(per_channel), batch)]
    return float(np.concatenate(top).mean())

  def measure(self, x: np.ndarray) -> dict:
    classes = class_modes.judged_classes(self.judge, x)
    fake_MF = self.embed(x)
    both = quality.compare(self.real_NF, fake_MF)
    equal = quality.compare(self.real_NF, fake_MF[:len(self.real_NF)])
    return {**class_modes.histogram_stats(classes, 10**x.shape[-1]),
            "confidence": self.confidence(x), "judge_accuracy": self.judge.accuracy,
            "fd": both["frechet_distance"], "fd_eq": equal["frechet_distance"],
            "precision": equal["precision"], "recall": equal["recall"],
            "num_real": both["num_real"], "feature_dims": both["feature_dims"]}

  def references(self) -> list[dict]:
    return [{"sampler": "data (training digits)", "steps": 0,
             "num_samples": len(self.train_x), "network_calls": 0.0,
             **self.measure(self.train_x), "seconds": 0.0}]

  def row(self, r: dict, steps: str) -> str:
    if r["sampler"].startswith("data"):
      steps, calls, seconds = "—", "—", "—"
    else:
      calls, seconds = f"{r['network_calls']:.0f}", f"{r['seconds']:.1f}"
    return (f"| {r['sampler']} | {steps} | {r['num_samples']} | {calls} | "
            f"{r['modes']}/{r['num_modes']} | {r['kl_to_uniform']:.4f} | "
            f"{r['confidence']:.3f} | {r['fd']:.2f} | {r['fd_eq']:.2f} | "
            f"{r['precision']:.3f} | {r['recall']:.3f} | {seconds} |")

  def figure(self, workdir: str, samples: list[tuple[str, np.ndarray]]) -> str:
    """figures/ode_samplers.png: the first samples of each row (the same noise in each
    column), then held-out digits."""
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
    rows = samples + [("held-out data", self.held_out)]
    up = viz.display_upscale(self.held_out.shape[1]) // 2 or 1
    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 0.6 * len(rows) + 0.2), dpi=120)
    for ax, (label, x) in zip(np.atleast_1d(axes), rows):
      ax.imshow(viz.image_grid(x[:_FIGURE_COLUMNS], _FIGURE_COLUMNS, upscale=up))
      ax.set_xticks([])
      ax.set_yticks([])
      ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    fig.tight_layout(pad=0.3)
    path = os.path.join(workdir, "figures", "ode_samplers.png")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
