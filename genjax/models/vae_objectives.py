"""The disentangling VAE objectives of disentanglement_lib, as pure functions on arrays.

Each objective is rec + a regulariser; `regulariser` picks it by name (`model.objective`):

  beta       beta * KL                                      (Higgins et al. 2017)
  annealed   gamma * |KL - C|, C rising 0 -> capacity_max   (Burgess et al. 2018)
  tcvae      KL + (tc_weight - 1) * TC, TC by MWS           (Chen et al. 2018)
  factorvae  KL + factor_gamma * TC, TC by a discriminator  (Kim & Mnih 2018)
  dip_i/ii   KL + lambda_od * sum offdiag(Cov)^2 + lambda_d * sum (diag(Cov) - 1)^2
                                                            (Kumar et al. 2018)

KL is the closed-form KL(q(z|x) || N(0, I)). Every weight is a traced hyperparameter (an
entry of `hp`), so changing one never recompiles; only the objective's name is static.
Shapes: B batch, D latent dims.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from genjax import config as gconfig
from genjax.errors import ConfigError
from genjax.models import config_rules

# objective -> the hparams it reads (each must be in config.hparams).
HPARAMS = {
    "beta": ("beta",),
    "annealed": ("gamma", "capacity_max", "capacity_steps"),
    "tcvae": ("tc_weight",),
    "factorvae": ("factor_gamma",),
    "dip_i": ("lambda_od", "lambda_d"),
    "dip_ii": ("lambda_od", "lambda_d"),
}
OBJECTIVES = tuple(HPARAMS)
# The config of every objective (the VAE family's, and the autoencoder's, whose configs carry them).
CONFIG_RULES = {
    "model.objective": gconfig.one_of(OBJECTIVES),
    "model.disc_widths": gconfig.POSITIVE_LIST,
    **{f"hparams.{name}": gconfig.NON_NEGATIVE
       for name in sorted({n for names in HPARAMS.values() for n in names} - {"beta"})},
    "hparams.capacity_steps": (lambda v: v > 0,
                               "> 0 (steps for the capacity C to reach its maximum)"),
    **config_rules.DISC_LEARNING_RATE,
    "optim.disc_b1": gconfig.BETWEEN_0_AND_1,
    "optim.disc_b2": gconfig.BETWEEN_0_AND_1,
}


def check_hparams(objective: str, names) -> None:
  """Raises ConfigError unless `objective` is known and every hparam it reads is in `names`."""
  if objective not in HPARAMS:
    raise ConfigError(f"config.model.objective='{objective}' is unknown; use one of "
                      f"{', '.join(OBJECTIVES)}")
  missing = [k for k in HPARAMS[objective] if k not in names]
  if missing:
    raise ConfigError(
        f"model.objective='{objective}' needs config.hparams.{', config.hparams.'.join(missing)}"
        "; add them (configs/vae.py's objective_defaults() sets all, at disentanglement_lib's "
        "defaults)")


def gaussian_kl(mean_BD: jax.Array, logvar_BD: jax.Array) -> jax.Array:
  """KL(N(mean, exp(logvar)) || N(0, I)) per latent dimension, [B, D]."""
  return 0.5 * (mean_BD**2 + jnp.exp(logvar_BD) - 1.0 - logvar_BD)


def gaussian_log_density(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
  """log N(z; mean, exp(logvar)) elementwise (broadcasting), in nats."""
  return -0.5 * ((z - mean) ** 2 * jnp.exp(-logvar) + logvar + math.log(2 * math.pi))


# --- AnnealedVAE -------------------------------------------------------------------------

def capacity(step: jax.Array, capacity_max: jax.Array, capacity_steps: jax.Array) -> jax.Array:
  """The controlled capacity C of Burgess et al. (2018), in nats.

  C = capacity_max * min(step / capacity_steps, 1): linear from 0 at step 0 to capacity_max
  at `capacity_steps`, then held (disentanglement_lib's AnnealedVAE schedule).
  """
  return capacity_max * jnp.minimum(jnp.asarray(step, jnp.float32) / capacity_steps, 1.0)


# --- beta-TCVAE --------------------------------------------------------------------------

def tcvae_decomposition(z_BD: jax.Array, mean_BD: jax.Array, logvar_BD: jax.Array,
                        dataset_size: int) -> dict[str, jax.Array]:
  """The KL decomposition of Chen et al. (2018) by minibatch-weighted sampling (MWS), per example.

  With q(z) = 1/N sum_n q(z|x_n) and M = B examples in the batch, MWS estimates
    log q(z_i)       ~ logsumexp_j log q(z_i | x_j)            - log(N M)
    log q(z_i,d)     ~ logsumexp_j log q(z_i,d | x_j)          - log(N M)   (each dim d)
  and with them, for z_i ~ q(z | x_i),
    mi   = log q(z_i | x_i)     - log q(z_i)              (index-code mutual information)
    tc   = log q(z_i)           - sum_d log q(z_i,d)      (total correlation)
    dwkl = sum_d log q(z_i,d)   - log p(z_i)              (dimension-wise KL)
  The three telescope: mi + tc + dwkl = log q(z_i | x_i) - log p(z_i), the one-sample
  estimate of KL(q(z|x_i) || p(z)), whatever N is; N only moves log(N M) between the terms.

  Args:
    z_BD: one posterior sample per example.
    mean_BD, logvar_BD: the Gaussian posteriors q(z | x_j).
    dataset_size: N, the number of training examples.

  Returns:
    {'mi', 'tc', 'dwkl'}: each [B].
  """
  log_norm = math.log(dataset_size * z_BD.shape[0])
  # log q(z_i,d | x_j): [B (sample i), B (posterior j), D]
  log_q_BBD = gaussian_log_density(z_BD[:, None, :], mean_BD[None], logvar_BD[None])
  log_qz_cond_x_B = jnp.diagonal(log_q_BBD, axis1=0, axis2=1).sum(0)
  log_qz_B = jax.nn.logsumexp(log_q_BBD.sum(-1), axis=1) - log_norm
  log_prod_qzd_B = (jax.nn.logsumexp(log_q_BBD, axis=1) - log_norm).sum(-1)
  log_pz_B = gaussian_log_density(z_BD, 0.0, 0.0).sum(-1)
  return {"mi": log_qz_cond_x_B - log_qz_B, "tc": log_qz_B - log_prod_qzd_B,
          "dwkl": log_prod_qzd_B - log_pz_B}


# --- FactorVAE ---------------------------------------------------------------------------

def permute_dims(rng: jax.Array, z_BD: jax.Array) -> jax.Array:
  """Samples of prod_d q(z_d): each latent dim permuted independently across the batch [B, D].

  Kim & Mnih (2018), Algorithm 1: shuffling each column breaks the dependence between dims
  while keeping every marginal q(z_d).
  """
  keys = jax.random.split(rng, z_BD.shape[1])
  return jax.vmap(jax.random.permutation, in_axes=(0, 1), out_axes=1)(keys, z_BD)


def discriminator_loss(logit_q_B: jax.Array, logit_perm_B: jax.Array) -> jax.Array:
  """Cross-entropy of a discriminator telling q(z) samples (label 1) from permuted ones (0).

  The logit is log D / (1 - D); at the optimum it is the log density ratio
  log q(z) / prod_d q(z_d), so its mean over q(z) samples estimates TC (`density_ratio_tc`).
  """
  return 0.5 * (jnp.mean(jax.nn.softplus(-logit_q_B)) + jnp.mean(jax.nn.softplus(logit_perm_B)))


def density_ratio_tc(logit_q_B: jax.Array) -> jax.Array:
  """TC = E_q(z)[log q(z) / prod_d q(z_d)] estimated by the discriminator's logits, a scalar."""
  return jnp.mean(logit_q_B)


# --- DIP-VAE -----------------------------------------------------------------------------

def dip_covariance(mean_BD: jax.Array, logvar_BD: jax.Array, kind: str) -> jax.Array:
  """The covariance DIP-VAE drives to the identity (Kumar et al. 2018), [D, D].

  'i': Cov_p(x)[mu(x)], the covariance of the posterior means over the batch.
  'ii': Cov_q(z) = E_p(x)[Sigma(x)] + Cov_p(x)[mu(x)], the aggregate posterior's covariance.
  Batch moments are 1/B-normalised, as in disentanglement_lib.
  """
  centred_BD = mean_BD - mean_BD.mean(0)
  cov_DD = centred_BD.T @ centred_BD / mean_BD.shape[0]
  if kind == "ii":
    cov_DD = cov_DD + jnp.diag(jnp.exp(logvar_BD).mean(0))
  return cov_DD


def dip_penalty_parts(cov_DD: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(sum of squared off-diagonal entries, sum of squared (diagonal - 1)); zero iff cov = I."""
  diag_D = jnp.diagonal(cov_DD)
  off_diag = jnp.sum(cov_DD**2) - jnp.sum(diag_D**2)
  return off_diag, jnp.sum((diag_D - 1.0) ** 2)


# --- the objectives by name --------------------------------------------------------------

def regulariser(objective: str, hp: dict, *, kl_B: jax.Array, z_BD: jax.Array,
                mean_BD: jax.Array, logvar_BD: jax.Array, step: jax.Array, dataset_size: int,
                tc_logit_B: jax.Array | None = None) -> tuple[jax.Array, dict]:
  """The term each objective adds to the reconstruction loss, and its logged parts.

  Args:
    objective: one of OBJECTIVES.
    hp: traced hyperparameters holding HPARAMS[objective].
    kl_B: closed-form KL(q(z|x) || N(0, I)) per example.
    z_BD, mean_BD, logvar_BD: the posterior sample and parameters.
    step: the train state's step (AnnealedVAE's schedule).
    dataset_size: N for the beta-TCVAE MWS estimator.
    tc_logit_B: the FactorVAE discriminator's logits on z_BD.

  Returns:
    (penalty, metrics): penalty is [B] or a scalar (broadcast over the batch before the mean);
    metrics are scalars.
  """
  check_hparams(objective, hp)
  if objective == "beta":
    return hp["beta"] * kl_B, {}
  if objective == "annealed":
    c = capacity(step, hp["capacity_max"], hp["capacity_steps"])
    # disentanglement_lib's form: the batch-mean KL is pulled towards C.
    return hp["gamma"] * jnp.abs(kl_B.mean() - c), {"capacity": c}
  if objective == "tcvae":
    parts = tcvae_decomposition(z_BD, mean_BD, logvar_BD, dataset_size)
    # E[mi + tc + dwkl] = KL, so the closed-form KL stands in for the three (less noise)
    # and only TC gets the extra weight: rec + mi + tc_weight * tc + dwkl.
    return kl_B + (hp["tc_weight"] - 1.0) * parts["tc"], {k: v.mean() for k, v in parts.items()}
  if objective == "factorvae":
    return kl_B + hp["factor_gamma"] * tc_logit_B, {"tc": density_ratio_tc(tc_logit_B)}
  cov_DD = dip_covariance(mean_BD, logvar_BD, objective.removeprefix("dip_"))  # dip_i, dip_ii
  off_diag, diag = dip_penalty_parts(cov_DD)
  return kl_B + hp["lambda_od"] * off_diag + hp["lambda_d"] * diag, {
      "dip_off_diag": off_diag, "dip_diag": diag}
