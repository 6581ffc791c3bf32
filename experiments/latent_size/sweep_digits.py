"""The compression study on digits: latent sizes 1-32 x 3 seeds, one run per member.

  genjax sweep --sweep=experiments/latent_size/sweep_digits.py \
      --config=experiments/latent_size/config.py:ae_digits --workdir=runs/latent_size/ae_digits
  genjax sweep --sweep=experiments/latent_size/sweep_digits.py \
      --config=experiments/latent_size/config.py:vae_digits --workdir=runs/latent_size/vae_digits
  genjax report --sweep=runs/latent_size/ae_digits       # and vae_digits

Members differ in model.latent_dim (a shape), so each is its own run: --launcher=local.
"""
CONFIG = "experiments/latent_size/config.py:vae_digits"
LATENT_DIMS = (1, 2, 4, 8, 16, 32)
SEEDS = (0, 1, 2)


def get_sweep():
  return [{"model.latent_dim": d, "seed": s} for d in LATENT_DIMS for s in SEEDS]
