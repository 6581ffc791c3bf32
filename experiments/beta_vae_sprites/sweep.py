"""The beta grid of Locatello et al. (2019) for the beta-VAE, times seeds.

  genjax sweep --sweep=experiments/beta_vae_sprites/sweep.py --workdir=runs/beta_vae_sprites \
      --launcher=vectorized                   # all 18 members as one population
  genjax report --sweep=runs/beta_vae_sprites
"""
CONFIG = "experiments/beta_vae_sprites/config.py:cpu"
BETAS = (1.0, 2.0, 4.0, 6.0, 8.0, 16.0)
SEEDS = (0, 1, 2)


def get_sweep():
  return [{"hparams.beta": beta, "seed": seed} for beta in BETAS for seed in SEEDS]
