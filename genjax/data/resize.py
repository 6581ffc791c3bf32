"""Fitting images to a model's square input: the shorter side resized, the centre cropped."""
from __future__ import annotations

import numpy as np


def resize_crop(image, res: int, crop: int = 0):
  """A PIL image as the centred res x res square (Pillow's antialiased bicubic).

  Args:
    image: a PIL image.
    res: the output side in pixels.
    crop: > 0 first keeps the centred crop x crop square of the original (CelebA's usual
      148 px face crop), which is then resized to res.

  Returns:
    The PIL image, res x res.
  """
  from PIL import Image  # pylint: disable=g-import-not-at-top
  if crop:
    w, h = image.size
    left, top = (w - crop) // 2, (h - crop) // 2
    image = image.crop((left, top, left + crop, top + crop))
  w, h = image.size
  scale = res / min(w, h)
  size = (max(res, round(w * scale)), max(res, round(h * scale)))
  if size != (w, h):
    image = image.resize(size, Image.Resampling.BICUBIC)
  left, top = (size[0] - res) // 2, (size[1] - res) // 2
  return image.crop((left, top, left + res, top + res))


def resize_batch(images_NHWC: np.ndarray, res: int, crop: int = 0) -> np.ndarray:
  """uint8 images [N, H, W, C] (C 1 or 3) -> uint8 [N, res, res, C] by `resize_crop`."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  out = np.empty((len(images_NHWC), res, res, images_NHWC.shape[-1]), np.uint8)
  for i, image in enumerate(images_NHWC):
    pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
    out[i] = np.asarray(resize_crop(pil, res, crop)).reshape(res, res, -1)
  return out
