"""Every disentangling VAE of disentanglement_lib over its own 6-value grid, times 3 seeds.

  genjax sweep --sweep=experiments/disentangling_vaes/sweep.py --workdir=runs/disentangling_vaes \
      --launcher=vectorized                   # one population per objective
  genjax report --sweep=runs/disentangling_vaes   # sweep_box.png: metrics per objective

The grids are those of Locatello et al. (2019), Table 2. The study runs at the CPU scale of
config.py (32x32 sprites, 2,000 steps), so AnnealedVAE's capacity ramp is scaled to the run
(capacity_steps = 2,000 = config.NUM_STEPS, instead of 100,000 of a 300,000-step run).
"""
CONFIG = "experiments/disentangling_vaes/config.py:cpu"
SEEDS = (0, 1, 2)
GRIDS = {
    "beta": [{"hparams.beta": b} for b in (1.0, 2.0, 4.0, 6.0, 8.0, 16.0)],
    "annealed": [{"hparams.capacity_max": c, "hparams.capacity_steps": 2000.0}
                 for c in (5.0, 10.0, 25.0, 50.0, 75.0, 100.0)],
    "factorvae": [{"hparams.factor_gamma": g} for g in (10.0, 20.0, 30.0, 40.0, 50.0, 100.0)],
    "dip_i": [{"hparams.lambda_od": l, "hparams.lambda_d": 10.0 * l}
              for l in (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)],
    "dip_ii": [{"hparams.lambda_od": l, "hparams.lambda_d": l}
               for l in (1.0, 2.0, 5.0, 10.0, 20.0, 50.0)],
    "tcvae": [{"hparams.tc_weight": w} for w in (1.0, 2.0, 4.0, 6.0, 8.0, 10.0)],
}


def get_sweep():
  return [{"model.objective": objective, **setting, "seed": seed}
          for objective, settings in GRIDS.items() for setting in settings for seed in SEEDS]
