"""Run as a script: one process of a 2-process training run, or the 1-process checks after it.

  multihost_worker.py train CONFIG WORKDIR STEPS OUT
      one process of a multi-process run (joined through the JAX_* variables), to STEPS.
  multihost_worker.py check CONFIG MULTI_WORKDIR REF_WORKDIR STEPS MORE_STEPS OUT
      one process: load_trained(MULTI_WORKDIR); a 1-process run to STEPS in REF_WORKDIR;
      MULTI_WORKDIR resumed to MORE_STEPS; REF_WORKDIR resumed to MORE_STEPS.

Each process has 2 fake CPU devices. The multi-process run joins the way a cluster job
does: genjax.train.parallel.maybe_initialize_distributed reads JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES and JAX_PROCESS_ID inside the real runner. Each stage writes its params
to OUT/<stage>_<process index>.npz for tests/train/test_multihost.py.
"""
import os
import sys

import jax

jax.config.update("jax_num_cpu_devices", 2)

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

from genjax import config as gconfig  # pylint: disable=wrong-import-position
from genjax.train import runner, session  # pylint: disable=wrong-import-position

# A checkpoint every 2 steps, and the evaluators and figures at the last step, so that their
# multi-process paths (gathers across hosts, writes by process 0 only) run too.
# SGD: a 2-process step sums gradients in another order than a 1-process one, and Adam would
# amplify that rounding (tests/conftest.assert_within_summation_rounding).
OVERRIDES = {"optim.name": "sgd", "data.batch_size": "16", "data.num_eval": "64",
             "data.eval_batch_size": "32", "train.steps_per_call": "1", "train.log_every": "2",
             "train.checkpoint_every": "2", "train.eval_every": "4", "train.figure_every": "4"}


def _save(out: str, stage: str, state, step) -> None:
  # Parameters are replicated: every process holds the whole value on each of its devices.
  leaves = jax.tree_util.tree_flatten_with_path(state.params)[0]
  arrays = {jax.tree_util.keystr(path): np.asarray(leaf.addressable_data(0))
            for path, leaf in leaves}
  np.savez(os.path.join(out, f"{stage}_{jax.process_index()}.npz"), **arrays,
           __step__=np.asarray(step), __processes__=np.asarray(jax.process_count()))


def _train(spec: str, workdir: str, steps: str, out: str, stage: str) -> None:
  config = gconfig.load_config(spec, dict(OVERRIDES, **{"train.num_steps": steps}))
  state = runner.train_and_evaluate(config, workdir)
  _save(out, stage, state, int(state.step.addressable_data(0)))


def main(mode: str, *args: str) -> None:
  if mode == "train":
    spec, workdir, steps, out = args
    _train(spec, workdir, steps, out, "multi")
  elif mode == "check":
    spec, multi, ref, steps, more_steps, out = args
    _, ctx = session.load_trained(multi)
    _save(out, "restored", ctx.state, ctx.step)
    _train(spec, ref + "_start", "0", out, "start")  # the scale of one step, for the bound
    _train(spec, ref + "_first", "1", out, "first")
    _train(spec, ref, steps, out, "single")
    _train(spec, multi, more_steps, out, "resumed")
    _train(spec, ref, more_steps, out, "single_more")
  else:
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
  main(*sys.argv[1:])
