"""Figures: image grids as PNG (pillow) and 2D scatter plots (matplotlib)."""
from __future__ import annotations

import os

import numpy as np
from PIL import Image


def image_grid(images_NHWC: np.ndarray, ncol: int, pad: int = 1, upscale: int = 1) -> np.ndarray:
  """Tiles N images into rows of `ncol`, values in [0, 1] -> uint8 [H', W', 3]."""
  images = np.clip(np.asarray(images_NHWC, np.float32), 0.0, 1.0)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  if upscale > 1:
    images = images.repeat(upscale, axis=1).repeat(upscale, axis=2)
  n, h, w, c = images.shape
  nrow = -(-n // ncol)
  grid = np.ones((nrow * (h + pad) + pad, ncol * (w + pad) + pad, c), np.float32)
  for i, image in enumerate(images):
    r, col = divmod(i, ncol)
    grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):pad + col * (w + pad) + w] = image
  return (grid * 255).round().astype(np.uint8)


def display_upscale(side: int) -> int:
  """An integer zoom that makes small images at least 64 pixels on screen."""
  return max(1, 64 // side)


def save_png(path: str, grid_HW3: np.ndarray) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  Image.fromarray(grid_HW3).save(path)
  return path


def save_image_grid(path: str, images_NHWC: np.ndarray, ncol: int) -> str:
  up = display_upscale(images_NHWC.shape[1])
  return save_png(path, image_grid(images_NHWC, ncol, upscale=up))


def save_scatter(path: str, points_N2: np.ndarray, reference_M2: np.ndarray | None = None,
                 title: str = "") -> str:
  """Generated points over the data (grey), for 2D datasets."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  os.makedirs(os.path.dirname(path), exist_ok=True)
  fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
  if reference_M2 is not None:
    ax.scatter(reference_M2[:, 0], reference_M2[:, 1], s=1, c="0.7", label="data")
  ax.scatter(points_N2[:, 0], points_N2[:, 1], s=1, c="C0", label="model")
  ax.set_aspect("equal")
  ax.set_title(title)
  ax.legend(loc="upper right", markerscale=5)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
  return path
