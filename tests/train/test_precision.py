"""Mixed precision (train.precision): with 'bfloat16' the networks' matmuls, convolutions and
activations run in bfloat16 while params, optimiser state, losses and reductions stay
float32; 'float32' (the default) is the program of a config without the key."""
from __future__ import annotations

import collections

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax.errors import ConfigError
from genjax.models import common
from genjax.train import session as gsession
from tests.conftest import assert_same_params, load, straight_and_resumed_runs

_MATMULS = ("dot_general", "conv_general_dilated")
_STEPS = 20
# family -> (config, overrides that keep it small, a metric that falls on one batch)
FAMILIES = {
    "vae": ("vae.py:smoke", {}, "loss"),
    "autoencoder": ("autoencoder.py:smoke", {}, "loss"),
    "classifier": ("classifier.py:smoke", {}, "loss"),
    "gan": ("gan.py:smoke", {}, "d_loss"),
    "pix2pix": ("pix2pix.py:smoke", dict(optim__learning_rate=2e-3), "l1"),
    "cyclegan": ("cyclegan.py:smoke", dict(model__num_blocks=0, model__pool_size=0,
                                           optim__learning_rate=2e-3), "cycle"),
    "diffusion": ("diffusion.py:smoke", {}, "loss"),
    "flow": ("flow.py:smoke", {}, "loss"),
}


def _eqns(jaxpr):
  """Every equation of a jaxpr, those of its sub-jaxprs (scans, custom gradients, nested
  jits, control flow) included."""
  for eqn in jaxpr.eqns:
    yield eqn
    for value in eqn.params.values():
      for sub in value if isinstance(value, (tuple, list)) else (value,):
        inner = getattr(sub, "jaxpr", sub)
        if hasattr(inner, "eqns"):
          yield from _eqns(inner)


def _matmuls(jaxpr) -> collections.Counter:
  """(primitive, operand dtype) -> count of every dot_general and convolution."""
  return collections.Counter((e.primitive.name, str(e.invars[0].aval.dtype))
                             for e in _eqns(jaxpr) if e.primitive.name in _MATMULS)


def _dtypes(counts: collections.Counter) -> set[str]:
  return {dtype for _, dtype in counts}


def _session(spec: str, **overrides):
  """(session, a training batch) of configs/<spec>; s.abstract_state traces without init."""
  config = load(spec, **overrides)
  s = gsession.open_session(config, "unused")
  return s, s.train.get_batch(np.arange(config.data.batch_size))


def _float_dtypes(tree) -> set[str]:
  return {str(a.dtype) for a in jax.tree.leaves(tree) if jnp.issubdtype(a.dtype, jnp.floating)}


def test_precision_key_accepts_float32_and_bfloat16_only():
  assert "train.precision" not in load("vae.py:smoke").train
  assert load("vae.py:smoke", train__precision="bfloat16").train.precision == "bfloat16"
  with pytest.raises(ConfigError, match="train.precision='float16'.*'float32' or 'bfloat16'") as e:
    load("vae.py:smoke", train__precision="float16")
  assert "\n" not in str(e.value)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_float32_is_the_program_of_a_config_without_the_key(family):
  """The same jaxpr, op for op: so the same compiled program and bit-identical results."""
  spec, small, _ = FAMILIES[family]
  programs = []
  for extra in ({}, dict(train__precision="float32")):
    s, batch = _session(spec, **small, **extra)
    programs.append(str(jax.make_jaxpr(s.family.train_step)(
        s.abstract_state, batch, s.rng(gsession.TRAIN_STREAM), s.hp)))
  assert programs[0] == programs[1]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bfloat16_computes_the_nets_in_bfloat16_and_keeps_state_and_losses_float32(family):
  spec, small, falling = FAMILIES[family]
  s, batch = _session(spec, train__precision="bfloat16", **small)
  state = s.init_state()
  assert s.family.precision == "bfloat16"
  rng = s.rng(gsession.TRAIN_STREAM)
  traced = jax.jit(s.family.train_step).trace(state, batch, rng, s.hp)
  counts = _matmuls(traced.jaxpr.jaxpr)
  assert ("dot_general", "bfloat16") in counts
  if family == "flow":  # the invertible linear maps carry the data: float32 (nets/coupling.py)
    assert _dtypes(counts) == {"bfloat16", "float32"}
  else:
    assert _dtypes(counts) == {"bfloat16"}, counts
  # evaluation computes as training does
  assert "bfloat16" in _dtypes(_matmuls(jax.make_jaxpr(s.family.eval_step)(
      state, batch, rng, s.hp).jaxpr))
  # unoptimised: compiling dominates a few tiny steps (as session.init_state does)
  step = traced.lower().compile({"xla_backend_optimization_level": 0})
  history = []
  for _ in range(_STEPS):
    state, metrics = step(state, batch, rng, s.hp)
    history.append(metrics)
  assert _float_dtypes(state.params) == {"float32"}
  assert _float_dtypes(state.opt_state) == {"float32"}
  assert _float_dtypes(history[-1]) == {"float32"}
  first, last = float(history[0][falling]), float(history[-1][falling])
  assert np.isfinite([float(m[falling]) for m in history]).all()
  assert last < 0.95 * first, (first, last)


def test_diffusion_unet_computes_in_bfloat16_timesteps_embedded_in_float32():
  """The U-Net's convolutions, attention and time-embedding layers are bfloat16; the
  sinusoidal features are computed from the exact timestep in float32 first."""
  s, batch = _session("diffusion.py:digits", train__precision="bfloat16", model__channels=8,
                      data__batch_size=4)
  jaxpr = jax.make_jaxpr(s.family.train_step)(s.abstract_state, batch,
                                              s.rng(gsession.TRAIN_STREAM), s.hp)
  counts = _matmuls(jaxpr.jaxpr)
  assert _dtypes(counts) == {"bfloat16"} and ("conv_general_dilated", "bfloat16") in counts
  sines = [e for e in _eqns(jaxpr.jaxpr) if e.primitive.name == "sin"]
  assert sines and all(str(e.outvars[0].aval.dtype) == "float32" for e in sines)


def test_diffusion_ode_likelihood_keeps_the_network_in_float32():
  """The adaptive solver's paths evaluate the network in float32 (diffusion.py _ode_eps_fn)."""
  s, batch = _session("diffusion.py:smoke", train__precision="bfloat16",
                      model__time="continuous", model__variance="posterior")
  jaxpr = jax.make_jaxpr(lambda st, b: s.family.ode_nll(st, b, jax.random.key(0)))(
      s.abstract_state, batch)
  counts = _matmuls(jaxpr.jaxpr)
  assert counts and _dtypes(counts) == {"float32"}


def test_group_norm_statistics_stay_float32_under_bfloat16():
  """Every reduction of a GroupNorm applied in bfloat16 runs on float32 values."""
  x = jax.random.normal(jax.random.key(0), (2, 4, 4, 8))
  norm = nn.GroupNorm(num_groups=2)
  params = norm.init(jax.random.key(1), x)["params"]
  jaxpr = jax.make_jaxpr(lambda p, x: common.apply_net("bfloat16", norm, p, x))(params, x)
  reductions = [e for e in _eqns(jaxpr.jaxpr) if e.primitive.name.startswith("reduce_")]
  assert reductions and all(str(e.invars[0].aval.dtype) == "float32" for e in reductions)
  assert common.apply_net("bfloat16", norm, params, x).dtype == jnp.float32


def test_bfloat16_run_resumes_from_its_checkpoint_exactly(tmp_path):
  """Stopped at step 4 and resumed to 8: the float32 params equal the straight run's."""
  overrides = dict(train__precision="bfloat16", model__widths=(16, 16), data__batch_size=32,
                   train__steps_per_call=1, train__log_every=2, train__checkpoint_every=2,
                   train__eval_every=0, train__figure_every=0)
  straight, resumed = straight_and_resumed_runs("vae.py:toy2d", tmp_path, 8, 4, **overrides)
  assert_same_params(straight, resumed)
  assert int(resumed.step) == 8 and _float_dtypes(resumed.params) == {"float32"}


def test_other_variable_collections_are_cast_like_params():
  """A spectral-normalised layer reads its power-iteration state from another collection:
  cast with the params, the rescaled kernel and the matmul stay bfloat16, and the state a
  mutable call returns comes back float32."""
  layer = nn.SpectralNorm(nn.Dense(4), collection_name="spectral")
  x = jax.random.normal(jax.random.key(0), (2, 3))
  variables = layer.init(jax.random.key(1), x, update_stats=False)

  def call(params, spectral, x):
    return common.apply_net("bfloat16", layer, params, x, collections={"spectral": spectral},
                            update_stats=True, mutable=["spectral"])

  jaxpr = jax.make_jaxpr(call)(variables["params"], variables["spectral"], x)
  dots = [e for e in _eqns(jaxpr.jaxpr) if e.primitive.name == "dot_general"]
  assert dots and all(str(e.invars[0].aval.dtype) == "bfloat16" for e in dots)
  out, updated = call(variables["params"], variables["spectral"], x)
  assert out.dtype == jnp.float32 and _float_dtypes(updated) == {"float32"}



def test_spectral_norm_discriminator_computes_in_bfloat16():
  """The GAN's spectrally normalised D reads its power-iteration state cast with the params
  (the iteration that advances it stays float32, in the train step)."""
  s, batch = _session("gan.py:smoke", train__precision="bfloat16", model__spectral_norm=True)
  state, disc = s.abstract_state, s.family._disc  # pylint: disable=protected-access
  jaxpr = jax.make_jaxpr(lambda p, sp, x: disc(p, x, None, sp))(
      state.params["disc"], state.extra["spectral"], batch["x"])
  assert _dtypes(_matmuls(jaxpr.jaxpr)) == {"bfloat16"}
