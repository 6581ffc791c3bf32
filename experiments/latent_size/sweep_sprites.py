"""The compression study on 32x32 sprites: latent sizes 1-32, one seed (CPU budget).

  genjax sweep --sweep=experiments/latent_size/sweep_sprites.py \
      --config=experiments/latent_size/config.py:ae_sprites32 --workdir=runs/latent_size/ae_sprites32
  genjax sweep --sweep=experiments/latent_size/sweep_sprites.py \
      --config=experiments/latent_size/config.py:vae_sprites32 --workdir=runs/latent_size/vae_sprites32
  genjax report --sweep=runs/latent_size/ae_sprites32    # and vae_sprites32

Members differ in model.latent_dim (a shape), so each is its own run: --launcher=local.
More seeds: add them to SEEDS and rerun; finished members are skipped.
"""
CONFIG = "experiments/latent_size/config.py:vae_sprites32"
LATENT_DIMS = (1, 2, 4, 8, 16, 32)
SEEDS = (0,)


def get_sweep():
  return [{"model.latent_dim": d, "seed": s} for d in LATENT_DIMS for s in SEEDS]
