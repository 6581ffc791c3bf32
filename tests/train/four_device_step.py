"""Run as a script with 4 fake CPU devices: a data-parallel step against the one-device step.

Prints a JSON line with the largest parameter difference and the device count, for
tests/train/test_parallel.py (JAX fixes the device count at start-up, hence a process).
"""
import json
import sys

import jax

jax.config.update("jax_num_cpu_devices", 4)

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from genjax import config as gconfig  # pylint: disable=wrong-import-position
from genjax import data as gdata  # pylint: disable=wrong-import-position
from genjax import models  # pylint: disable=wrong-import-position
from genjax.train import parallel, runner, session  # pylint: disable=wrong-import-position


def main(config_path):
  config = gconfig.load_config(config_path, {"data.batch_size": "16"})
  source = gdata.load(config.data, "train")
  family = models.build_family(config, source.info)
  hp = gconfig.hparams_as_arrays(config)
  batches = np.stack([source.get_batch(np.arange(i * 16, (i + 1) * 16))["x"] for i in range(3)])
  rng = jax.random.key(1)
  state0 = family.init(jax.random.key(0), {"x": batches[0]}, hp)
  acc0 = session.init_accumulator(("kl", "loss", "lr", "nelbo", "rec"))
  multistep = runner.make_multistep(family.train_step)

  one_device = jax.jit(multistep)
  single, _ = one_device(jax.device_put(state0, jax.devices()[0]),
                         {"x": jax.device_put(batches, jax.devices()[0])}, rng, hp,
                         jax.device_put(acc0, jax.devices()[0]))

  mesh = parallel.make_mesh()
  rep, data = parallel.replicated(mesh), parallel.batch_sharding(mesh, 1)
  sharded_step = jax.jit(multistep, in_shardings=(rep, data, rep, rep, rep),
                         out_shardings=(rep, rep))
  x = parallel.to_global({"x": batches}, data)
  many, _ = sharded_step(jax.device_put(state0, rep), x, rng, hp, jax.device_put(acc0, rep))
  diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in
             zip(jax.tree.leaves(single.params), jax.tree.leaves(many.params)))
  first_rows = np.asarray(x["x"][0][:8])  # slicing a batch-sharded array must work
  print(json.dumps({"devices": jax.device_count(), "max_abs_diff": diff,
                    "sharded": str(x["x"].sharding.spec), "slice_ok": bool(
                        np.array_equal(first_rows, batches[0][:8]))}))


if __name__ == "__main__":
  main(sys.argv[1])
