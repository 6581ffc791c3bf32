"""2x2 stride-1 'VALID' convolutions as one matrix product each, with a hand-written gradient.

The 4x4 stride-2 convolutions of the beta-VAE nets and their transposes are, after a
space-to-depth or phase rearrangement, 2x2 stride-1 convolutions (downsample.py,
upsample.py). With 32 to 128 channels these are bound by memory traffic, not FLOPs, and
XLA:CPU (jax 0.10) lowers them and their gradients badly: the kernel gradient becomes a
batch-transposed convolution and, for narrow outputs, even the forward pass falls on a slow
path (measured in benchmarks/README.md). So each is written as one `dot` plus data
movement, building whichever 4x-wide intermediate is narrower:

  patches  (input side):   P[s] = concat_t X[s + t]   (4K channels);   Y = P @ W
  products (output side):  Z[s] = X[s] @ [W_t]_t       (4N channels);   Y[s] = sum_t Z[s + t, t]

for taps t in {0, 1}^2, input channels K and output channels N. The backward pass is two
more products of the same kind, each built the narrow way: dX is a 2x2 convolution of dY
with the flipped, transposed kernel ('full' for a 'VALID' forward pass and vice versa, so an
upsampling layer's input gradient needs no padding); dW contracts over pixels either the
saved patches with dY, or X with the stack of dY shifted by each tap.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

_TAPS = ((0, 0), (0, 1), (1, 0), (1, 1))


def pad1(x_BHWC: jax.Array) -> jax.Array:
  """One row/column of zeros on each side of the two spatial axes."""
  return jnp.pad(x_BHWC, ((0, 0), (1, 1), (1, 1), (0, 0)))


def _patches_are_narrower(k: int, n: int) -> bool:
  """Patches are 4K wide, products 4N: build the narrower (patches on a tie)."""
  return k <= n


def _patches(x_BHWK: jax.Array) -> jax.Array:
  """[B, H-1, W-1, 4K]: the four taps of every 2x2 window, tap-major."""
  b, h, w, k = x_BHWK.shape
  # A stack on a new axis, then a reshape: XLA fuses this into one loop, where a concatenate
  # of the same slices copies each slice first (about twice the time).
  taps_BHW4K = jnp.stack([x_BHWK[:, i:i + h - 1, j:j + w - 1] for i, j in _TAPS], axis=-2)
  return taps_BHW4K.reshape(b, h - 1, w - 1, 4 * k)


def _forward(x_BHWK: jax.Array, w_22KN: jax.Array, full: bool):
  """The convolution and what its gradient needs: the patches if built, else x (padded)."""
  if full:
    x_BHWK = pad1(x_BHWK)
  b, h, w, k = x_BHWK.shape
  n = w_22KN.shape[-1]
  if _patches_are_narrower(k, n):
    p_BHW4K = _patches(x_BHWK)
    return p_BHW4K @ w_22KN.reshape(4 * k, n), p_BHW4K
  z_BHW4N = (x_BHWK @ w_22KN.transpose(2, 0, 1, 3).reshape(k, 4 * n)).reshape(b, h, w, 4, n)
  y = sum(z_BHW4N[:, i:i + h - 1, j:j + w - 1, t] for t, (i, j) in enumerate(_TAPS))
  return y, x_BHWK


def _kernel_grad(saved: jax.Array, dy_BHWN: jax.Array, k: int) -> jax.Array:
  """dL/dW [2, 2, K, N] = sum over pixels s of X[s + t]^T dY[s], for each tap t.

  Args:
    saved: the patches [B, H-1, W-1, 4K] if the forward pass built them, else X [B, H, W, K].
    dy_BHWN: the output's cotangent [B, H-1, W-1, N].
    k: input channels K.
  """
  n = dy_BHWN.shape[-1]
  if _patches_are_narrower(k, n):
    dw_4KN = jax.lax.dot_general(saved.reshape(-1, 4 * k), dy_BHWN.reshape(-1, n),
                                 (((0,), (0,)), ((), ())))
    return dw_4KN.reshape(2, 2, k, n)
  # Shift dY onto X's grid rather than slicing X: dY is the narrow side here. Building the
  # shifted copies as [4N, pixels] makes the dot a plain row-major product; building them
  # [pixels, 4N] and contracting the pixel axis of both operands ran 1.1-3x slower.
  dy_NBHW = dy_BHWN.transpose(3, 0, 1, 2)
  shifted_4NBHW = jnp.stack([
      jnp.pad(dy_NBHW, ((0, 0), (0, 0), (i, 1 - i), (j, 1 - j))) for i, j in _TAPS])
  dw_4NK = shifted_4NBHW.reshape(4 * n, -1) @ saved.reshape(-1, k)
  return dw_4NK.reshape(2, 2, n, k).transpose(0, 1, 3, 2)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv2x2(x_BHWK: jax.Array, w_22KN: jax.Array, full: bool = False) -> jax.Array:
  """y[b, i, j] = sum_{di, dj in {0, 1}} x[b, i + di, j + dj] @ w[di, dj].

  Args:
    x_BHWK: input [B, H, W, K].
    w_22KN: kernel [2, 2, K, N] (HWIO, as `lax.conv_general_dilated` takes it).
    full: pad x with one zero on each side first ('full' rather than 'VALID').

  Returns:
    [B, H-1, W-1, N], equal to `lax.conv_general_dilated(x, w, (1, 1), 'VALID')`, or
    [B, H+1, W+1, N] with padding ((1, 1), (1, 1)) if `full`.
  """
  return _forward(x_BHWK, w_22KN, full)[0]


def _conv2x2_fwd(x_BHWK, w_22KN, full):
  y, saved = _forward(x_BHWK, w_22KN, full)
  return y, (saved, w_22KN)


def _conv2x2_bwd(full, residuals, dy_BHWN):
  saved, w_22KN = residuals
  # 'VALID' and 'full' 2x2 convolutions are each other's transposes, kernel flipped: the
  # input gradient of a full one needs no padding at all.
  flipped_22NK = w_22KN[::-1, ::-1].transpose(0, 1, 3, 2)
  dx_BHWK = _forward(dy_BHWN, flipped_22NK, not full)[0]
  dw_22KN = _kernel_grad(saved, dy_BHWN, w_22KN.shape[2])
  return dx_BHWK, dw_22KN.astype(w_22KN.dtype)


conv2x2.defvjp(_conv2x2_fwd, _conv2x2_bwd)
