"""Run as a script with 4 fake CPU devices: a vectorised population against solo runs.

The population axis (4 members) is sharded over the 4 devices; each solo run splits its
batch over them instead. Prints one JSON line for tests/train/test_population.py with the
largest parameter difference relative to the summation-rounding bound of
tests/conftest.assert_within_summation_rounding (<= 1 passes).
"""
import json
import os
import sys

import jax

jax.config.update("jax_num_cpu_devices", 4)

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from genjax import config as gconfig  # pylint: disable=wrong-import-position
from genjax.core import devices  # pylint: disable=wrong-import-position
from genjax.errors import ConfigError  # pylint: disable=wrong-import-position
from genjax.train import population, runner  # pylint: disable=wrong-import-position
from tests.conftest import F32_UNIT_ROUNDOFF, REL_STEP  # pylint: disable=wrong-import-position

STEPS, MOMENTUM = 20, 0.9  # SGD with momentum optim.b1 = 0.9


def main(config_path, root):
  base = {"train.num_steps": str(STEPS), "train.steps_per_call": "5", "train.log_every": "10",
          "train.checkpoint_every": "20", "train.eval_every": "0", "train.figure_every": "0",
          "optim.name": "sgd"}
  one = {"train.steps_per_call": "1", "train.log_every": "1", "train.checkpoint_every": "1"}
  members = [{"hparams.beta": str(b), "seed": str(s)} for b, s in ((1.0, 0), (4.0, 1), (0.5, 2),
                                                                   (2.0, 3))]
  load = lambda m, **o: gconfig.load_config(config_path, {**base, **m, **o})
  configs = [load(m) for m in members]
  together, errors = runner.train_members(configs, [f"{root}/pop/{i}" for i in range(4)],
                                          mode="vmap")
  alone = [runner.train_and_evaluate(c, f"{root}/solo/{i}") for i, c in enumerate(configs)]
  start = [runner.train_and_evaluate(load(m, **one, **{"train.num_steps": "0"}), f"{root}/s/{i}")
           for i, m in enumerate(members)]
  first = [runner.train_and_evaluate(load(m, **one, **{"train.num_steps": "1"}), f"{root}/f/{i}")
           for i, m in enumerate(members)]
  leaves = lambda s: [np.asarray(x) for x in jax.tree.leaves(jax.device_get(s.params))]
  worst = 0.0
  for p, q, s0, s1 in zip(together, alone, start, first):
    for a, b, x0, x1 in zip(leaves(p), leaves(q), leaves(s0), leaves(s1)):
      bound = (STEPS * REL_STEP * np.max(np.abs(x1 - x0)) / (1 - MOMENTUM)
               + 4 * F32_UNIT_ROUNDOFF * np.abs(b))
      worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(bound, 1e-30))))
  stepper = population.VmapStepper(runner.make_multistep(lambda *a: a), devices.make_mesh(), 4)
  try:  # lanes are host threads for one device; over several they are refused up front
    runner.train_members(configs, [f"{root}/lanes/{i}" for i in range(4)], lanes=2)
    lanes_refusal = ""
  except ConfigError as e:
    lanes_refusal = str(e) if not os.path.exists(f"{root}/lanes") else "wrote first: " + str(e)
  print(json.dumps({"devices": jax.device_count(), "errors": [str(e) for e in errors if e],
                    "lanes_refusal": lanes_refusal,
                    "population_sharded": stepper._population_sharded,  # pylint: disable=protected-access
                    "worst_over_bound": worst}))


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2])
