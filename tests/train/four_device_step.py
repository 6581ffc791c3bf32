"""Run as a script with 4 fake CPU devices: a data-parallel step against the one-device step.

Prints a JSON line with the largest parameter difference relative to the summation-rounding
bound of tests/conftest.assert_within_summation_rounding (<= 1 passes) and the device count,
for tests/train/test_parallel.py (JAX fixes the device count at start-up, hence a process).
The 4-device step sums the batch's gradients per device, then across devices: another
order than one device's, so the steps are SGD (Adam would amplify the rounding).
"""
import json
import os
import sys

import jax

jax.config.update("jax_num_cpu_devices", 4)

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from genjax import config as gconfig  # pylint: disable=wrong-import-position
from genjax import data as gdata  # pylint: disable=wrong-import-position
from genjax import models  # pylint: disable=wrong-import-position
from genjax.core import devices  # pylint: disable=wrong-import-position
from genjax.train import runner, session  # pylint: disable=wrong-import-position
from tests.conftest import F32_UNIT_ROUNDOFF, REL_STEP  # pylint: disable=wrong-import-position

STEPS, MOMENTUM = 3, 0.9  # SGD with momentum optim.b1 = 0.9


def main(config_path):
  config = gconfig.load_config(config_path, {"data.batch_size": "16", "optim.name": "sgd"})
  source = gdata.load(config.data, "train")
  family = models.build_family(config, source.info)
  hp = gconfig.hparams_as_arrays(config)
  batches = np.stack([source.get_batch(np.arange(i * 16, (i + 1) * 16))["x"]
                      for i in range(STEPS)])
  rng = jax.random.key(1)
  state0 = family.init(jax.random.key(0), {"x": batches[0]}, hp)
  acc0 = session.init_accumulator(("kl", "loss", "lr", "nelbo", "rec"))
  multistep = runner.make_multistep(family.train_step)

  one_device = jax.jit(multistep)
  single, _ = one_device(jax.device_put(state0, jax.devices()[0]),
                         {"x": jax.device_put(batches, jax.devices()[0])}, rng, hp,
                         jax.device_put(acc0, jax.devices()[0]))

  mesh = devices.make_mesh()
  rep, data = devices.replicated(mesh), devices.batch_sharding(mesh, 1)
  sharded_step = jax.jit(multistep, in_shardings=(rep, data, rep, rep, rep),
                         out_shardings=(rep, rep))
  x = devices.to_global({"x": batches}, data)
  many, _ = sharded_step(jax.device_put(state0, rep), x, rng, hp, jax.device_put(acc0, rep))
  first, _ = one_device(jax.device_put(state0, jax.devices()[0]),
                        {"x": jax.device_put(batches[:1], jax.devices()[0])}, rng, hp,
                        jax.device_put(acc0, jax.devices()[0]))
  leaves = lambda s: [np.asarray(x) for x in jax.tree.leaves(jax.device_get(s.params))]
  worst = 0.0
  for a, b, x0, x1 in zip(leaves(single), leaves(many), leaves(state0), leaves(first)):
    bound = (STEPS * REL_STEP * np.max(np.abs(x1 - x0)) / (1 - MOMENTUM)
             + 4 * F32_UNIT_ROUNDOFF * np.abs(a))
    worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(bound, 1e-30))))
  first_rows = np.asarray(x["x"][0][:8])  # slicing a batch-sharded array must work
  print(json.dumps({"devices": jax.device_count(), "worst_over_bound": worst,
                    "sharded": str(x["x"].sharding.spec), "slice_ok": bool(
                        np.array_equal(first_rows, batches[0][:8]))}))


if __name__ == "__main__":
  main(sys.argv[1])
