"""The training toolkit switches (issue 16): gradient accumulation, parameter EMA, best
checkpoints. Each is off by default; each test states what the switch must preserve."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.errors import ConfigError
from genjax.train import session as gsession
from tests.conftest import (assert_same_params, assert_within_summation_rounding, load,
                            straight_and_resumed_runs)

# One xdist worker runs this module: the EMA and best-checkpoint runs are trained once,
# not once per worker.
pytestmark = pytest.mark.xdist_group("test_toolkit")

# Tiny 2D configs with plain SGD: one step's movement is lr * gradient, so two programs that
# sum the micro-batch gradients in another order agree within summation rounding.
_SGD = dict(optim__name="sgd", optim__b1=0.0, optim__learning_rate=1e-2, data__batch_size=32,
            model__widths=(16, 16), train__steps_per_call=1)


def _opened(spec: str, tmp_path, **overrides):
  config = load(spec, **_SGD, **overrides)
  s = gsession.open_session(config, str(tmp_path / "unused"))
  batch = s.train.get_batch(np.arange(config.data.batch_size))
  return s, s.init_state(), batch


# ======================================================================================
# Gradient accumulation
# ======================================================================================

def test_accumulated_gan_step_equals_full_batch_step_with_two_disc_steps(tmp_path):
  """k = 4 micro-batches of 8 give the update of one batch of 32, for both optimiser groups
  and each of two discriminator steps (z is drawn for the whole batch in both)."""
  full, state0, batch = _opened("gan.py:smoke", tmp_path, model__disc_steps=2)
  acc, _, _ = _opened("gan.py:smoke", tmp_path, model__disc_steps=2, train__grad_accum_steps=4)
  assert acc.family.micro_batches == 4
  rng = full.rng(gsession.TRAIN_STREAM)
  want, want_metrics = jax.jit(full.family.train_step)(state0, batch, rng, full.hp)
  got, got_metrics = jax.jit(acc.family.train_step)(state0, batch, rng, acc.hp)
  assert_within_summation_rounding(got, want, state0, want, steps=1)
  for name in want_metrics:
    np.testing.assert_allclose(got_metrics[name], want_metrics[name], rtol=1e-5, atol=1e-6)


def test_accumulated_vae_step_is_the_mean_of_micro_batch_gradients(tmp_path):
  """A VAE's update with k = 4 is one optimiser step on the mean of the four micro-batch
  gradients, micro-batch j drawing its posterior noise from fold_in(step key, j) (a
  full-batch step draws other noise, so it is compared to these gradients computed here)."""
  acc, state0, batch = _opened("vae.py:toy2d", tmp_path, train__grad_accum_steps=4)
  fam, hp, k = acc.family, acc.hp, 4
  rng = acc.rng(gsession.TRAIN_STREAM)
  step_rng = jax.random.fold_in(rng, state0.step)

  def micro_grad(j):
    micro = jax.tree.map(lambda x: x[j * 8:(j + 1) * 8], batch)
    loss = lambda p: fam._objective(p, micro, jax.random.fold_in(step_rng, j), hp, state0.step)[0]
    return jax.grad(loss)(state0.params)

  @jax.jit
  def reference():
    grads = jax.tree.map(lambda *g: sum(g) / k, *[micro_grad(j) for j in range(k)])
    updates, _ = fam.optimizer.update(grads, state0.opt_state["main"], state0.params)
    return jax.tree.map(jnp.add, state0.params, updates)

  want = state0.replace(params=reference())
  got, metrics = jax.jit(fam.train_step)(state0, batch, rng, hp)
  assert_within_summation_rounding(got, want, state0, want, steps=1)
  assert metrics["loss"].shape == ()


def test_resume_with_accumulation_matches_uninterrupted_run(tmp_path):
  """Stopped at step 4 and resumed to 8 (two scanned steps per call, each of 2 micro-
  batches): the parameters equal the straight run's bit for bit."""
  straight, resumed = straight_and_resumed_runs(
      "vae.py:toy2d", tmp_path, 8, 4, **dict(_SGD, train__steps_per_call=2),
      train__grad_accum_steps=2, train__log_every=4, train__checkpoint_every=4,
      train__eval_every=0, train__figure_every=0)
  assert_same_params(straight, resumed)
  assert int(resumed.step) == 8


@pytest.mark.parametrize("overrides, phrase", [
    (dict(train__grad_accum_steps=3), "must divide data.batch_size=32"),
    (dict(train__grad_accum_steps=2, model__objective="tcvae"), "minibatch-weighted"),
])
def test_accumulation_refusals_are_one_line(tmp_path, overrides, phrase):
  with pytest.raises(ConfigError, match=phrase) as e:
    _opened("vae.py:toy2d", tmp_path, **overrides)
  assert "\n" not in str(e.value)


# ======================================================================================
# Parameter EMA
# ======================================================================================

def test_ema_after_n_steps_equals_the_closed_form_of_the_raw_trajectory(tmp_path):
  """ema_N = prod_n d_n p_0 + sum_i (1 - d_i) prod_{j>i} d_j p_i, d_n = min(d, (1+n)/(10+n)),
  computed in float64 from the raw params p_0..p_N of a GAN (both players averaged)."""
  s, state, batch = _opened("gan.py:smoke", tmp_path, hparams__ema_decay=0.5)
  step = jax.jit(s.train_step)
  rng = s.rng(gsession.TRAIN_STREAM)
  trajectory = [jax.device_get(state.params)]
  for _ in range(5):
    state, _ = step(state, batch, rng, s.hp)
    trajectory.append(jax.device_get(state.params))
  decays = [min(0.5, (1 + n) / (10 + n)) for n in range(1, 6)]
  weights = [np.prod(decays)] + [(1 - d) * np.prod(decays[i + 1:]) for i, d in enumerate(decays)]
  assert abs(sum(weights) - 1) < 1e-12
  want = jax.tree.map(lambda *ps: sum(w * np.float64(p) for w, p in zip(weights, ps)), *trajectory)
  for got, ref, p in zip(jax.tree.leaves(jax.device_get(state.ema)), jax.tree.leaves(want),
                         jax.tree.leaves(trajectory[-1])):
    bound = 6 * 2 * 2.0 ** -24 * max(float(np.max(np.abs(p))), float(np.max(np.abs(ref))))
    np.testing.assert_allclose(got, ref, rtol=0, atol=bound)
  assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(jax.device_get(state.ema)),
                                                      jax.tree.leaves(trajectory[-1])))


_TINY_RUN = dict(_SGD, train__num_steps=4, train__log_every=2, train__checkpoint_every=2,
                 train__eval_every=4, train__figure_every=0, data__eval_batch_size=250,
                 data__num_eval=500)


@pytest.fixture(scope="module")
def ema_runs(tmp_path_factory):
  """Four-step toy2d VAE runs without the key, at decay 0 and at decay 0.9, each evaluator
  call recording the params it received."""
  from genjax import evals as gevals  # pylint: disable=g-import-not-at-top
  from genjax.train import runner  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp("ema")
  seen = {}
  original = gevals.EVALUATORS["elbo"]
  def recording(ctx, cfg):
    seen[ctx.workdir] = (jax.device_get(ctx.state.params), ctx.params)
    return original(ctx, cfg)
  gevals.EVALUATORS["elbo"] = recording
  try:
    runs = {}
    for name, extra in (("none", {}), ("zero", dict(hparams__ema_decay=0.0)),
                        ("ema", dict(hparams__ema_decay=0.9))):
      workdir = str(root / name)
      state = runner.train_and_evaluate(load("vae.py:toy2d", **_TINY_RUN, **extra), workdir)
      runs[name] = (workdir, state, seen.get(workdir))
  finally:
    gevals.EVALUATORS["elbo"] = original
  return runs


def _eval_record(workdir: str, name: str = "elbo") -> dict:
  import json  # pylint: disable=g-import-not-at-top
  with open(f"{workdir}/evals/{name}.json") as f:
    return json.load(f)


def test_evaluators_receive_ema_params_when_on(ema_runs):
  workdir, state, (params, kind) = ema_runs["ema"]
  assert kind == "ema" and _eval_record(workdir)["params"] == "ema"
  for got, want, raw in zip(jax.tree.leaves(params), jax.tree.leaves(jax.device_get(state.ema)),
                            jax.tree.leaves(jax.device_get(state.params))):
    np.testing.assert_array_equal(got, want)
    assert not np.array_equal(got, raw)


def test_ema_decay_zero_or_absent_leaves_results_bit_identical(ema_runs):
  (dir_none, none, (seen_none, kind_none)), (dir_zero, zero, (seen_zero, kind_zero)) = (
      ema_runs["none"], ema_runs["zero"])
  assert none.ema == {} and kind_none == kind_zero == "raw"
  assert_same_params(none, zero)
  for a, b in zip(jax.tree.leaves(seen_none), jax.tree.leaves(seen_zero)):
    np.testing.assert_array_equal(a, b)
  assert _eval_record(dir_none)["metrics"] == _eval_record(dir_zero)["metrics"]
  assert _eval_record(dir_zero)["params"] == "raw"


# ======================================================================================
# Best checkpoints
# ======================================================================================

@pytest.fixture(scope="module")
def best_run(tmp_path_factory):
  """Eight toy2d VAE steps evaluated every 2, keeping the 'best' = *highest* -ELBO (so the
  best is an early step, not the latest) beside one latest checkpoint."""
  from genjax.train import runner  # pylint: disable=g-import-not-at-top
  workdir = str(tmp_path_factory.mktemp("best") / "run")
  overrides = dict(_TINY_RUN, train__num_steps=8, train__eval_every=2, train__checkpoint_every=4,
                   train__keep_checkpoints=1, train__keep_best="elbo/nelbo_nats",
                   train__keep_best_mode="max", evals__elbo__type="elbo")
  runner.train_and_evaluate(load("vae.py:toy2d", **overrides), workdir)
  return workdir, overrides


def test_best_step_is_kept_beside_the_latest_and_used_by_eval_sample_report(best_run):
  import json  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  from tests.conftest import read_metrics, run_cli  # pylint: disable=g-import-not-at-top
  workdir, _ = best_run
  evals = {r["step"]: r["nelbo_nats"] for r in read_metrics(workdir, "eval/elbo")}
  best = max(evals, key=evals.get)
  assert best != 8
  assert sorted(int(n) for n in os.listdir(f"{workdir}/checkpoints") if n.isdigit()) == [best, 8]
  done = run_cli("eval", f"--workdir={workdir}", "--evals=elbo", "--step=best")
  assert done.returncode == 0, done.stderr
  assert f"elbo (step {best})" in done.stdout
  with open(f"{workdir}/evals/elbo.json") as f:
    record = json.load(f)
  assert record["step"] == best and record["metrics"]["nelbo_nats"] == evals[best]
  done = run_cli("sample", f"--workdir={workdir}", "--num=8", "--step=best")
  assert done.returncode == 0, done.stderr
  assert f"samples from step {best}" in done.stdout
  done = run_cli("report", f"--workdir={workdir}", "--step=best")
  assert done.returncode == 0, done.stderr
  with open(f"{workdir}/report.md") as f:
    assert f"Step {best} has the best `elbo/nelbo_nats` (max)" in f.read()


def test_resume_starts_from_the_latest_step_not_the_best(best_run, capsys):
  from genjax.train import runner  # pylint: disable=g-import-not-at-top
  workdir, overrides = best_run
  state = runner.train_and_evaluate(
      load("vae.py:toy2d", **dict(overrides, train__num_steps=10)), workdir)
  assert "resuming" in capsys.readouterr().out and int(state.step) == 10


def test_step_best_without_keep_best_is_one_line(ema_runs):
  from genjax.errors import CheckpointError  # pylint: disable=g-import-not-at-top
  with pytest.raises(CheckpointError, match="trained without train.keep_best") as e:
    gsession.load_trained(ema_runs["none"][0], step="best")
  assert "\n" not in str(e.value)


def test_keep_best_must_name_an_evaluator_run_in_training(tmp_path):
  from genjax.train import runner  # pylint: disable=g-import-not-at-top
  with pytest.raises(ConfigError, match="must name EVAL/METRIC"):
    runner.train_and_evaluate(load("vae.py:toy2d", **_TINY_RUN, train__keep_best="modes/x"),
                              str(tmp_path / "run"))
  assert not (tmp_path / "run").exists()
