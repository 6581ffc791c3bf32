"""The flow family: exact log-dets, exact inverses, a normalised density, and training that helps.

Tolerances are derived from float32's machine epsilon and the conditioning of the map under
test (measured here from its Jacobian), never from one machine's rounding.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genjax import data as gdata
from genjax import models
from genjax.core import family as contract
from genjax.errors import ConfigError
from genjax.models import flow
from genjax.nets import coupling
from genjax.train import runner
from tests.conftest import load

EPS32 = float(np.finfo(np.float32).eps)


def _perturbed(params, rng, scale: float):
  """params + scale * N(0, 1) noise: a zero-initialised coupling becomes a non-trivial map."""
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(rng, len(leaves))
  return jax.tree.unflatten(tree, [p + scale * jax.random.normal(k, p.shape)
                                   for p, k in zip(leaves, keys)])


def _layer_and_params(layer, dim: int, scale: float = 0.3):
  x_BD = jax.random.normal(jax.random.key(0), (3, dim))
  params = jax.jit(lambda x: _perturbed(layer.init(jax.random.key(1), x), jax.random.key(2),
                                        scale))(x_BD)
  return x_BD, params


def _logdet_tolerance(jac_DD: np.ndarray) -> float:
  """Bound on the log-det error from float32 Jacobian entries: each entry is off by a few
  ulps (relative 8 eps, a handful of roundings per entry), and a relative perturbation
  delta of J moves log|det J| by at most about D * cond(J) * delta."""
  d = jac_DD.shape[0]
  return d * np.linalg.cond(jac_DD.astype(np.float64)) * 8 * EPS32 + 8 * EPS32


@pytest.mark.parametrize("make_layer", [
    lambda d: coupling.AffineCoupling(coupling.half_mask(d, 1), (8,)),
    lambda d: coupling.InvertibleLinear(coupling.fixed_permutation(d, 3)),
    lambda d: coupling.CouplingFlow(2, (8,)),
], ids=["affine_coupling", "invertible_linear", "coupling_flow"])
def test_each_layers_logdet_equals_log_abs_det_of_its_jacobian(make_layer):
  dim = 4
  layer = make_layer(dim)
  x_BD, params = _layer_and_params(layer, dim)

  @jax.jit
  def logdets_and_jacobians(x_BD):
    out = []
    for inverse in (False, True):
      one = lambda x_D, inverse=inverse: layer.apply(params, x_D[None], inverse)[0][0]
      out.append((layer.apply(params, x_BD, inverse)[1], jax.vmap(jax.jacfwd(one))(x_BD)))
    return out

  for logdet_B, jac_BDD in logdets_and_jacobians(x_BD):
    for ld, jac_DD in zip(np.asarray(logdet_B), np.asarray(jac_BDD)):
      sign, expected = np.linalg.slogdet(jac_DD.astype(np.float64))
      assert sign != 0
      assert abs(ld - expected) <= _logdet_tolerance(jac_DD), (ld, expected)


def test_affine_coupling_leaves_its_conditioning_half_unchanged():
  layer = coupling.AffineCoupling((1, 1, 0, 0), (8,))
  x_BD, params = _layer_and_params(layer, 4)
  y_BD, _ = jax.jit(layer.apply)(params, x_BD)
  np.testing.assert_array_equal(y_BD[:, :2], x_BD[:, :2])
  assert not np.allclose(y_BD[:, 2:], x_BD[:, 2:])


def _family(spec: str, **overrides):
  """(family, a state with perturbed params, 16 held-out x) of a config, tiny nets."""
  config = load(spec, model__widths=(16,), model__num_couplings=2, **overrides)
  source = gdata.load(config.data, "test")
  fam = models.build_family(config, source.info)
  x = source.arrays["x"][:16]
  state = jax.jit(lambda x: _perturbed_state(fam, x))(jnp.asarray(x))
  return fam, state, x


def _perturbed_state(fam, x):
  state = fam.init(jax.random.key(0), {"x": x}, {})
  return state.replace(params=_perturbed(state.params, jax.random.key(5), 0.1))


@pytest.fixture(scope="module")
def points_flow():
  return _family("flow.py:smoke")


@pytest.fixture(scope="module")
def digits_flow():
  return _family("flow.py:digits")


def test_flow_implements_the_capabilities_its_evaluators_ask_for(points_flow):
  fam = points_flow[0]
  for capability in (contract.Family, contract.Sampler, contract.Encoder, contract.Decoder,
                     contract.LogProbBound):
    assert contract.has(fam, capability), capability.__name__
  assert not contract.has(fam, contract.LatentPosterior)  # likelihood hands over to nll_bound


@pytest.mark.parametrize("which", ["points_flow", "digits_flow"])
def test_decode_of_encode_is_the_input_within_float32_tolerance(which, request):
  fam, state, x = request.getfixturevalue(which)

  @jax.jit
  def round_trip(x):
    z = fam.encode(state, x)
    jac = jax.jacfwd(lambda z_D: fam.decode(state, z_D[None]).reshape(-1))(z[0])
    return z, fam.decode(state, z), jac
  z, back, jac = (np.asarray(a) for a in round_trip(jnp.asarray(x)))
  assert z.shape == (len(x), fam.latent_dim) and back.shape == x.shape
  # Each of the ~4 float32 operations per layer (2 layers per coupling step, plus the logit
  # pre-transform for images) rounds once forward and once back, in code units; the
  # inverse's Jacobian carries that error to x.
  gain = float(np.linalg.norm(jac.astype(np.float64), 2))
  roundings = 2 * 4 * (2 * 2 + 2)
  tol = roundings * EPS32 * gain * (1.0 + float(np.abs(z).max()))
  np.testing.assert_allclose(back, x, rtol=0, atol=tol)


def test_density_integrates_to_one_on_a_2d_grid(points_flow):
  fam, state, _ = points_flow
  batch_nll = jax.jit(lambda x: fam.log_prob_bound(state, {"x": x}, jax.random.key(0)))

  def integral(h: float, half_width: float) -> float:
    ticks = np.arange(-half_width + h / 2, half_width, h)  # midpoint rule
    gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
    pts = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    return float(np.sum(np.exp(-np.asarray(batch_nll(jnp.asarray(pts)), np.float64))) * h * h)

  half_width = 8.0
  coarse, fine = integral(0.1, half_width), integral(0.05, half_width)
  # Midpoint error scales as h^2: the fine grid's error is about (coarse - fine) / 3.
  quadrature = abs(coarse - fine) / 3
  # Mass outside the box: no sample of 20,000 left it, so at 99.9 % confidence the outside
  # holds under -ln(0.001) / 20,000 = 3.5e-4.
  draw = jax.jit(fam.sample, static_argnums=2)
  samples = np.asarray(draw(state, jax.random.key(9), 20_000, {}))
  assert np.abs(samples).max() < half_width
  outside = -math.log(1e-3) / len(samples)
  summation = fine * 1e-6  # float64 sum of 102,400 float32-accurate terms (8 eps each)
  assert abs(fine - 1.0) <= 2 * quadrature + outside + summation, (coarse, fine)


def test_dequantised_bound_is_in_nats_of_the_17_count_levels(digits_flow):
  fam, state, x = digits_flow
  assert fam.levels == 16 and fam.latent_dim == 64
  nll = np.asarray(jax.jit(fam.log_prob_bound)(state, {"x": jnp.asarray(x)}, jax.random.key(1)))
  # Identity-like flow on logits: far worse than a trained model, but finite and a bound
  # in nats of a probability (a discrete -log P is >= 0).
  assert np.all(np.isfinite(nll)) and np.all(nll > 0)


def test_short_training_through_the_runner_lowers_the_held_out_nll(tmp_path):
  config = load("flow.py:smoke", train__num_steps=40, train__log_every=20,
                train__checkpoint_every=40, train__eval_every=0, train__figure_every=0,
                optim__learning_rate=0.01)
  config.evals = {}
  source = gdata.load(config.data, "test")
  fam = models.build_family(config, source.info)
  x = jnp.asarray(source.arrays["x"][:256])
  before = jax.jit(fam.init)(jax.random.key(config.seed), {"x": x}, {})
  after = runner.train_and_evaluate(config, str(tmp_path / "run"))
  nll = jax.jit(lambda state: fam.log_prob_bound(state, {"x": x}, jax.random.key(0)).mean())
  nll_before, nll_after = float(nll(before)), float(nll(after))
  assert int(after.step) == 40
  assert nll_after < nll_before - 0.1, (nll_before, nll_after)


@pytest.mark.parametrize("override,message", [
    ({"model__num_couplings": 0}, "model.num_couplings"),
    ({"model__widths": (0,)}, "model.widths"),
    ({"model__logit_alpha": 0.5}, "model.logit_alpha"),
])
def test_bad_flow_config_is_refused_in_one_line(override, message):
  with pytest.raises(ConfigError, match=message):
    config = load("flow.py:smoke", **override)
    flow.Flow.from_config(config, gdata.load(config.data, "test").info)


def test_unknown_model_key_in_a_flow_config_file_is_refused():
  config = load("flow.py:smoke")
  config.model.num_coupling = 3
  with pytest.raises(ConfigError, match=r"model.num_coupling .*did you mean 'model.num_couplings'"):
    flow.Flow.from_config(config, gdata.load(config.data, "test").info)


def test_encode_uses_bin_centres_so_every_count_has_one_code(digits_flow):
  fam, state, _ = digits_flow
  counts = np.arange(17, dtype=np.float32) / 16
  x = np.tile(counts[:, None, None, None], (1, 8, 8, 1))
  z = np.asarray(jax.jit(fam.encode)(state, jnp.asarray(x)))
  assert len(np.unique(z.round(4), axis=0)) == 17
