"""CycleGAN configs: day <-> night renderings of unpaired shape scenes (unpaired_shapes).

  genjax train --config=configs/cyclegan.py --workdir=runs/cyclegan
  genjax eval  --workdir=runs/cyclegan --evals=translation

Variants: default (32x32, CPU friendly: ResNet generators of width 16 with 4 blocks,
34x34-patch PatchGANs), smoke (16x16, tiny, for tests). The recipe (Zhu et al. 2017): Adam
2e-4, b1 0.5, lambda_cycle 10, lambda_identity 0.5 (of lambda_cycle), a 50-image history
pool, the learning rate constant for half the steps and then linear to 0. The translation
evaluator scores A -> B against each held-out A image's true night rendering (y_true).
"""
from genjax import config as gconfig


def default():
  c = gconfig.base_config()
  c.data.name = "unpaired_shapes"
  c.data.resolution = 32
  c.data.batch_size = 8
  c.data.eval_batch_size = 64
  c.data.num_eval = 512
  c.model = dict(family="cyclegan", channels=16, num_blocks=4, disc_channels=32, disc_layers=2,
                 pool_size=50)
  c.hparams = dict(lambda_cycle=10.0, lambda_identity=0.5)
  c.optim.learning_rate = 2e-4
  c.optim.b1 = 0.5
  c.optim.schedule = "constant_then_linear"
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
  c.model.num_blocks = 1
  c.model.disc_channels = 4
  c.model.disc_layers = 1
  c.model.pool_size = 3
  c.train.num_steps = 6
  c.train.steps_per_call = 1
  c.train.log_every = 3
  c.train.checkpoint_every = 3
  c.train.eval_every = 6
  return c


def get_config(arg=None):
  return gconfig.pick_variant(arg, dict(default=default, smoke=smoke), default="default")
