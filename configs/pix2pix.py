"""pix2pix configs: outline drawings -> shaded colour renderings (paired_shapes).

  genjax train --config=configs/pix2pix.py --workdir=runs/p2p
  genjax eval  --workdir=runs/p2p --evals=translation

Variants: default (32x32, CPU friendly: a 5-level U-Net of width 32 and a 34x34-patch
PatchGAN), smoke (16x16, tiny, for tests). The recipe's optimiser (Isola et al. 2017): Adam
2e-4, b1 0.5; lambda_l1 100. The translation evaluator reports held-out L1 and PSNR next to
the identity mapping's.
"""
from genjax import config as gconfig


def default():
  c = gconfig.base_config()
  c.data.name = "paired_shapes"
  c.data.resolution = 32
  c.data.batch_size = 16
  c.data.eval_batch_size = 64
  c.data.num_eval = 512
  c.model = dict(family="pix2pix", channels=32, disc_channels=32, disc_layers=2, dropout=0.0)
  c.hparams = dict(lambda_l1=100.0)
  c.optim.learning_rate = 2e-4
  c.optim.b1 = 0.5
  c.train.num_steps = 2000
  c.train.steps_per_call = 1  # conv: see runner.make_multistep
  c.train.log_every = 100
  c.train.checkpoint_every = 500
  c.train.eval_every = 500
  # The runner's sample figure needs a prior; the evaluator draws figures/translation.png.
  c.train.figure_every = 500
  c.evals = dict(translation=dict(type="translation"))
  return c


def smoke():
  c = default()
  c.data.resolution = 16
  c.data.batch_size = 4
  c.data.eval_batch_size = 8
  c.data.num_eval = 16
  c.data.num_test = 16
  c.model.channels = 4
  c.model.disc_channels = 4
  c.model.disc_layers = 1
  c.train.num_steps = 6
  c.train.steps_per_call = 1
  c.train.log_every = 3
  c.train.checkpoint_every = 3
  c.train.eval_every = 6
  return c


def get_config(arg=None):
  return gconfig.pick_variant(arg, dict(default=default, smoke=smoke), default="default")
