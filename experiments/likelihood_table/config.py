"""The likelihood table's configs: a VAE and a diffusion model per dataset, one held-out split.

  genjax train --config=experiments/likelihood_table/config.py:vae_ring8 \
      --workdir=runs/likelihood_table/vae_ring8
  (likewise diffusion_ring8, vae_digits, diffusion_digits), then
  python experiments/likelihood_table/table.py --root=runs/likelihood_table

Variants, each trained on 2 CPU cores in minutes and evaluated once, at its last step:
- vae_ring8, diffusion_ring8: configs/vae.py:toy2d (here 20,000 steps with a cosine decay
  instead of 5,000 at a constant rate) and configs/diffusion.py:ring8 (8 Gaussians on the
  unit circle, std 0.01); both score the first NUM_RING8 points of the fixed toy2d test
  split (seed 1), so the exact NLL of the same points sits beside them.
- vae_digits, diffusion_digits: configs/vae.py:digits and an *unconditional* version of
  configs/diffusion.py:digits (the stock one is label-conditional: its bound is on
  -log p(x | label), not on -log p(x)) with the analytic reverse variances that ring8
  uses; both score the whole 297-digit test split.

Every cell writes evals/likelihood.json from the `likelihood` evaluator (the VAE's -ELBO
and IWAE_k; for diffusion it hands over to `nll_bound`); the VAEs also write evals/elbo.json.
On digits both families model the pixel counts 0..16 themselves (model.levels = 16, x =
count / 16): vae_digits with a Binomial(16, sigmoid(logits)) decoder at beta = 1 and
diffusion_digits on the 17-level grid with its discretised L_0 on the same 17 bins, so both
bounds are on the same discrete probability. (The binomial's -log p(x | z) is
16 * the Bernoulli cross-entropy - sum log C(16, 16 x), a constant of the data: training it
at beta 1 is the same objective as the Bernoulli decoder at beta 1/16, up to the factor 16
that Adam does not see, which is what this cell did before the binomial existed.)
"""
import os

import ml_collections

from genjax import config as gconfig

_CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "configs")
_VAE = os.path.join(_CONFIGS, "vae.py")
_DIFFUSION = os.path.join(_CONFIGS, "diffusion.py")

NUM_RING8 = 2000  # held-out points per ring8 cell (diffusion's bound costs T=1000 net calls each)
NUM_DIGITS = 297  # the whole digits test split
IWAE_K = 1000
COUNT_LEVELS = 16  # digits pixels are counts 0..16; x = count / 16


def _evaluate_once(c: ml_collections.ConfigDict, evals: dict) -> ml_collections.ConfigDict:
  """The given evaluators, run once at the last step (figures there too)."""
  c.evals = evals
  c.train.eval_every = c.train.num_steps
  c.train.figure_every = c.train.num_steps
  c.train.checkpoint_every = c.train.num_steps
  return c


def _vae_evals(num: int) -> dict:
  return dict(elbo=dict(type="elbo"),
              likelihood=dict(type="likelihood", k=IWAE_K, num_examples=num))


def vae_ring8():
  c = gconfig.load_config(f"{_VAE}:toy2d")
  c.data.num_eval = NUM_RING8
  # 4x the stock 5,000 steps with diffusion's cosine decay: still ~1 CPU-minute, and the
  # IWAE of a run that uses both latent dims improves by ~0.4 nats (README)
  c.train.num_steps = 20_000
  c.optim.schedule = "cosine"
  c.optim.warmup_steps = 200
  return _evaluate_once(c, _vae_evals(NUM_RING8))


def diffusion_ring8():
  c = gconfig.load_config(f"{_DIFFUSION}:ring8")
  c.data.num_eval = NUM_RING8
  return _evaluate_once(c, dict(likelihood=dict(type="likelihood", num_examples=NUM_RING8)))


def vae_digits():
  c = gconfig.load_config(f"{_VAE}:digits")
  c.data.num_eval = NUM_DIGITS
  # a probability of the counts 0..16 (module docstring); the stock beta 1
  c.model.likelihood = "binomial"
  c.model.levels = COUNT_LEVELS
  return _evaluate_once(c, _vae_evals(NUM_DIGITS))


def diffusion_digits():
  c = gconfig.load_config(f"{_DIFFUSION}:digits")
  c.data.num_eval = NUM_DIGITS
  c.model.conditional = False
  c.model.label_dropout = 0.0
  c.hparams.guidance = 0.0
  # the bound is what this cell measures: Bao et al.'s analytic reverse variances, as on
  # ring8, where the stock beta_tilde leaves most of the bound in the KL terms (README)
  c.model.variance = "analytic"
  # images on the 17 counts themselves (x = count / 16), in training and in the bound's L_0
  c.model.levels = COUNT_LEVELS
  return _evaluate_once(c, dict(likelihood=dict(type="likelihood", num_examples=NUM_DIGITS)))


def get_config(arg=None):
  return gconfig.pick_variant(
      arg, dict(vae_ring8=vae_ring8, diffusion_ring8=diffusion_ring8, vae_digits=vae_digits,
                diffusion_digits=diffusion_digits), default="vae_ring8")
