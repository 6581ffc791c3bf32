"""Run as a script with 4 fake CPU devices: a vectorised population against solo runs.

The population axis (4 members) is sharded over the 4 devices; each solo run splits its
batch over them instead. Prints one JSON line for tests/train/test_population.py.
"""
import json
import sys

import jax

jax.config.update("jax_num_cpu_devices", 4)

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from genjax import config as gconfig  # pylint: disable=wrong-import-position
from genjax.train import parallel, population, runner  # pylint: disable=wrong-import-position


def main(config_path, root):
  base = {"train.num_steps": "20", "train.steps_per_call": "5", "train.log_every": "10",
          "train.checkpoint_every": "20", "train.eval_every": "0", "train.figure_every": "0"}
  members = [{"hparams.beta": str(b), "seed": str(s)} for b, s in ((1.0, 0), (4.0, 1), (0.5, 2),
                                                                   (2.0, 3))]
  configs = [gconfig.load_config(config_path, {**base, **m}) for m in members]
  together, errors = runner.train_members(configs, [f"{root}/pop/{i}" for i in range(4)],
                                          mode="vmap")
  alone = [runner.train_and_evaluate(c, f"{root}/solo/{i}") for i, c in enumerate(configs)]
  diff = max(float(np.max(np.abs(a - b)))
             for p, q in zip(together, alone)
             for a, b in zip(jax.tree.leaves(jax.device_get(p.params)),
                             jax.tree.leaves(jax.device_get(q.params))))
  stepper = population.VmapStepper(runner.make_multistep(lambda *a: a), parallel.make_mesh(), 4)
  print(json.dumps({"devices": jax.device_count(), "errors": [str(e) for e in errors if e],
                    "population_sharded": stepper._population_sharded,  # pylint: disable=protected-access
                    "max_abs_diff": diff}))


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2])
