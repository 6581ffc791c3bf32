"""Re-scores the trained digits cells with decoders on the 17 pixel counts 0..16 themselves.

  python experiments/likelihood_table/rescore.py --root=runs/likelihood_table

genjax scores digits on other grids: the VAE's Bernoulli cross-entropy on x = count / 16
(no probability), and diffusion's discretised Gaussian L_0 on the 8-bit grid (256 levels,
of which the data use 17; its bound is valid for the counts but pays for 239 levels that
never occur). This script evaluates the same checkpoints on the same 297 held-out digits
with the decoders read on the counts:
- VAE: the `likelihood` evaluator (ELBO and IWAE_k) with the decoder as Binomial(16,
  sigmoid(logits)) per pixel: -log p(c | z) = 16 CE(c / 16, logits) - log C(16, c), the
  decoder the vae_digits cell trained (its beta = 1/16; see table.py).
- diffusion: the `nll_bound` evaluator with L_0 discretised on the 17 levels (bins of
  width 2/16 on [-1, 1], end bins to +-inf) and x_0 on that grid; the eps network is the
  trained one (it saw the counts rounded to 8 bits, within 1/510 of the grid), and the bound
  holds for any network.
A diagnostic, not a genjax feature: it swaps genjax.models.likelihoods.bernoulli_nll and
genjax.models.diffusion._LEVELS in this process only, and writes <root>/rescore_digits.json
(never into a run directory). The genjax change that would make it a feature: a 'binomial'
decoder likelihood and a model.levels setting for diffusion's image grid.
"""
from __future__ import annotations

import argparse
import json
import os

import jax.numpy as jnp
from jax.scipy import special

from genjax.evals import likelihood, nll_bound
from genjax.models import diffusion, likelihoods
from genjax.train.session import load_trained

COUNT_LEVELS = 16
OUT_NAME = "rescore_digits.json"


def binomial_nll(logits_BX, x_BX, n: int = COUNT_LEVELS):
  """-log Binomial(n x | n, sigmoid(logits)) summed per example, for x on the grid k / n."""
  b = x_BX.shape[0]
  c = jnp.round(x_BX.reshape(b, -1) * n)
  log_binom = special.gammaln(n + 1.0) - special.gammaln(c + 1.0) - special.gammaln(n - c + 1.0)
  return n * _BERNOULLI_NLL(logits_BX, x_BX) - jnp.sum(log_binom, -1)


_BERNOULLI_NLL = likelihoods.bernoulli_nll


def rescore_vae(workdir: str, k: int) -> dict:
  likelihoods.bernoulli_nll = binomial_nll
  try:
    _, ctx = load_trained(workdir)
    return likelihood.run(ctx, {"k": k, "num_examples": ctx.config.data.num_eval})
  finally:
    likelihoods.bernoulli_nll = _BERNOULLI_NLL


def rescore_diffusion(workdir: str) -> dict:
  levels = diffusion._LEVELS  # pylint: disable=protected-access
  diffusion._LEVELS = float(COUNT_LEVELS)  # pylint: disable=protected-access
  try:
    _, ctx = load_trained(workdir)
    return nll_bound.run(ctx, {"num_examples": ctx.config.data.num_eval})
  finally:
    diffusion._LEVELS = levels  # pylint: disable=protected-access


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--root", default="runs/likelihood_table")
  parser.add_argument("--k", type=int, default=1000, help="importance samples for the VAE")
  args = parser.parse_args()
  out = {"vae_digits": rescore_vae(os.path.join(args.root, "vae_digits"), args.k),
         "diffusion_digits": rescore_diffusion(os.path.join(args.root, "diffusion_digits"))}
  print(json.dumps(out, indent=2))
  with open(os.path.join(args.root, OUT_NAME), "w") as f:
    json.dump(out, f, indent=2)


if __name__ == "__main__":
  main()
