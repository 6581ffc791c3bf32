"""Locatello et al. (2019)'s beta grid for the beta-VAE, times seeds (they ran 50 seeds).

  genjax sweep --sweep=experiments/beta_vae_dsprites/sweep.py --workdir=runs/bvae_dsprites \
      --launcher=vectorized
  genjax report --sweep=runs/bvae_dsprites
"""
CONFIG = "experiments/beta_vae_dsprites/config.py:cpu"
BETAS = (1.0, 2.0, 4.0, 6.0, 8.0, 16.0)
SEEDS = (0, 1)


def get_sweep():
  return [{"hparams.beta": beta, "seed": seed} for beta in BETAS for seed in SEEDS]
