"""The Family contract as `typing.Protocol`s: what the runner calls, and what evaluators ask for.

Every family implements `Family` (the runner needs nothing else). The uses of a trained
model need more, and each such capability is a protocol of its own: an evaluator states
the ones it needs with `require(family, Encoder, Decoder, evaluator='recon', ...)`, which
refuses a family without them in one line naming what is missing, and then calls the
methods. An evaluator never reads a family's parameters or nets itself: what it would
compute from them (a decoder's log-likelihood, a KL) is a method of the family.

Shapes in names: B batch, D latent dims, S samples per example, X one example's shape.
The protocols are runtime-checkable: `isinstance(family, Encoder)` tests that the
methods (and attributes) exist, not their signatures.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import jax

from genjax.core.dataset import DatasetInfo
from genjax.core.state import TrainState
from genjax.errors import CapabilityError

Batch = dict[str, Any]  # 'x' [B, ...] and optional 'label', 'y', 'factors', ...
Metrics = dict[str, jax.Array]


@runtime_checkable
class Family(Protocol):
  """What the runner calls: build the state, step it (pure, jittable), score held-out data."""

  def init(self, rng: jax.Array, batch: Batch, hp: dict) -> TrainState:
    """The step-0 state; `batch` fixes the shapes."""

  def train_step(self, state: TrainState, batch: Batch, rng: jax.Array,
                 hp: dict) -> tuple[TrainState, Metrics]:
    """One optimiser step (all of a family's players); metrics are scalars."""

  def eval_step(self, state: TrainState, batch: Batch, rng: jax.Array, hp: dict) -> Metrics:
    """Per-example held-out terms, each [B]."""


@runtime_checkable
class Sampler(Protocol):
  """Draws from the model: prior samples (a conditional model takes classes as `cond`)."""

  def sample(self, state: TrainState, rng: jax.Array, num: int, hp: dict,
             cond: Any = None) -> jax.Array:
    """`num` samples shaped like x, [num, ...]."""


@runtime_checkable
class Conditional(Protocol):
  """A label-conditional model: `sample` and `generate` take class indices as `cond`."""

  num_classes: int  # 0 for an unconditional model of a conditional family


@runtime_checkable
class Encoder(Protocol):
  """Maps inputs to codes (features, latent means)."""

  def encode(self, state: TrainState, x_BX: jax.Array) -> jax.Array:
    """Codes z [B, D]."""


@runtime_checkable
class Decoder(Protocol):
  """Maps codes back to inputs (the decoder's mean)."""

  latent_dim: int

  def decode(self, state: TrainState, z_BD: jax.Array) -> jax.Array:
    """x [B, ...] for codes z."""


@runtime_checkable
class Generator(Protocol):
  """Maps prior draws z ~ N(0, I) to samples, with no encoder (GANs)."""

  latent_dim: int

  def generate(self, state: TrainState, z_BD: jax.Array, cond: Any = None) -> jax.Array:
    """x [B, ...] for codes z."""


@runtime_checkable
class Discriminator(Protocol):
  """A learned real-versus-fake critic (GANs): a score of how real inputs look."""

  def discriminate(self, state: TrainState, batch: Batch) -> jax.Array:
    """Logits [B], higher = more real."""


@runtime_checkable
class LogProbBound(Protocol):
  """An upper bound on -log p(x) per example (a VAE's -ELBO, diffusion's variational bound)."""

  def log_prob_bound(self, state: TrainState, batch: Batch, rng: jax.Array) -> jax.Array:
    """Nats per example [B]."""


@runtime_checkable
class ExactLogProb(Protocol):
  """log p(x) itself, not a bound (a normalizing flow's change of variables)."""

  def log_prob(self, state: TrainState, batch: Batch, rng: jax.Array) -> jax.Array:
    """log p(x) in nats per example [B]."""


@runtime_checkable
class ProbabilityFlow(Protocol):
  """A diffusion model's probability-flow ODE: -log p(x) by the instantaneous change of
  variables, and the deterministic map between data and noise (models/diffusion_ode.py)."""

  def ode_nll(self, state: TrainState, batch: Batch, rng: jax.Array, **solver: Any) -> dict:
    """{'nll': nats [B], 'steps': the solver's accepted steps [B], ...}."""

  def ode_encode(self, state: TrainState, x: jax.Array, cond: Any = None) -> jax.Array:
    """Data -> noise along the ODE, shaped like x."""

  def ode_decode(self, state: TrainState, z: jax.Array, cond: Any = None) -> jax.Array:
    """Noise -> data along the ODE, shaped like z."""


@runtime_checkable
class EvidenceBound(Protocol):
  """The ELBO's parts, and whether its likelihood is a probability of this data."""

  def elbo_terms(self, state: TrainState, batch: Batch, rng: jax.Array) -> Metrics:
    """'rec' (-log p(x|z), one posterior draw), 'kl' (KL(q(z|x) || p(z))) and their sum
    'nelbo', each [B] in nats."""

  def proper_likelihood(self, info: DatasetInfo) -> bool:
    """True when -log p(x|z) is -log of a normalised distribution of `info`'s x."""


@runtime_checkable
class LatentPosterior(Protocol):
  """A diagonal-Gaussian posterior q(z|x) under the prior N(0, I), and the joint density:
  what importance-weighted bounds and per-dimension KL rankings need."""

  def posterior(self, state: TrainState, x_BX: jax.Array) -> tuple[jax.Array, jax.Array]:
    """q(z|x) as (mean [B, D], log-variance [B, D])."""

  def prior_kl(self, state: TrainState, x_BX: jax.Array) -> jax.Array:
    """KL(q(z_d|x) || N(0, 1)) per latent dimension, [B, D] nats."""

  def log_joint(self, state: TrainState, x_BX: jax.Array, z_SBD: jax.Array) -> jax.Array:
    """log p(x|z) + log p(z) [S, B] for S codes per example."""


@runtime_checkable
class Translator(Protocol):
  """Image-to-image translation between two domains (pix2pix, CycleGAN)."""

  def translate(self, state: TrainState, x_BHWC: jax.Array, direction: str = "AtoB") -> jax.Array:
    """The other domain's image of each input."""


@runtime_checkable
class Classifier(Protocol):
  """Class scores and penultimate-layer features (the judge of sample quality)."""

  def logits(self, state: TrainState, x_BX: jax.Array) -> jax.Array:
    """Unnormalised class scores [B, K]."""

  def features(self, state: TrainState, x_BX: jax.Array) -> jax.Array:
    """Penultimate-layer features [B, F]."""


def has(family: Any, *capabilities: type) -> bool:
  """True when `family` implements every protocol in `capabilities`."""
  return all(isinstance(family, c) for c in capabilities)


def num_classes(family: Any) -> int:
  """The classes a conditional family samples (0 for an unconditional one)."""
  return int(family.num_classes or 0) if isinstance(family, Conditional) else 0


def describe(capability: type) -> str:
  """'Encoder (encode)': a protocol's name and the members it asks for."""
  members = sorted(n for n in capability.__annotations__ if not n.startswith("_"))
  members += sorted(n for n, v in vars(capability).items()
                    if callable(v) and not n.startswith("_"))
  return f"{capability.__name__} ({', '.join(members)})"


def require(family: Any, *capabilities: type, evaluator: str = "", family_name: str = "",
            use: str = "") -> None:
  """Refuses, in one CapabilityError line, a family lacking any of `capabilities`.

  Args:
    family: the model family.
    *capabilities: protocols from this module.
    evaluator: the evaluator or command asking, named in the message.
    family_name: config.model.family, named in the message (default: the class's name).
    use: instead of an evaluator, the call asking (e.g. 'run.encode()'), named as is.
  """
  missing = [c for c in capabilities if not isinstance(family, c)]
  if missing:
    name = family_name or type(family).__name__
    who, fix = ((use, "load a run of a family that has it") if use else
                (f"evaluator '{evaluator}'", "drop it from --evals/config.evals"))
    raise CapabilityError(f"{who} needs {' and '.join(describe(c) for c in missing)}, which "
                          f"model family '{name}' lacks; {fix}")
