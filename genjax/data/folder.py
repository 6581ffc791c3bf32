"""A folder of PNG/JPEG images (subfolders as classes), resized and centre-cropped, split by seed.

`data.path=DIR`: images directly in DIR are one unlabelled set; images in subfolders of DIR
are labelled by their subfolder (classes in sorted name order). Each image is resized so
its shorter side is data.resolution (Pillow's antialiased bicubic) and centre-cropped to a
square. Channels come from the files (1 when every file is grey, else RGB; alpha is
dropped) unless data.channels says 1 or 3. The decoded images are written once to a
uint8 cache file (records.py; keyed by the files' names, sizes and times, the resolution and
the channels) and read from it per batch, so a large folder is decoded once, not every run.
The split is a fixed permutation (seed 0) of the images in sorted path order: its first
data.num_test (default a tenth, at most 10,000) are the test set.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from genjax import config as gconfig
from genjax.core.dataset import DatasetInfo
from genjax.data import records, resize
from genjax.errors import DataError

NAME = "folder"
EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLIT_SEED = 0
MAX_DEFAULT_TEST = 10_000
_GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")
_DECODE_BATCH = 256


@dataclasses.dataclass(frozen=True)
class FolderSource:
  """A split of a decoded image folder: position i is image `image_indices[i]`."""

  info: DatasetInfo
  images: records.RecordFile
  labels: np.ndarray | None
  image_indices: np.ndarray

  def __len__(self) -> int:
    return len(self.image_indices)

  def get_batch(self, indices_N: np.ndarray) -> dict[str, np.ndarray]:
    flat = self.image_indices[np.asarray(indices_N)]
    unique, inverse = np.unique(flat, return_inverse=True)
    x = self.images.read_sorted(unique)[inverse].astype(np.float32) * np.float32(1 / 255)
    batch = {"x": x}
    if self.labels is not None:
      batch["label"] = self.labels[flat]
    return batch


def list_images(root: str) -> tuple[list[str], np.ndarray | None, tuple[str, ...]]:
  """(image paths in sorted order, their labels or None, the class names) of a folder."""
  if not os.path.isdir(root):
    raise DataError(f"data.path='{root}' is not a directory; data.name='folder' reads a "
                    "folder of .png/.jpg images (subfolders as classes)")
  is_image = lambda n: n.lower().endswith(EXTENSIONS) and not n.startswith(".")
  entries = sorted(os.listdir(root))
  top = [os.path.join(root, n) for n in entries if is_image(n)]
  classes, paths, labels = [], [], []
  for name in entries:
    sub = os.path.join(root, name)
    if not os.path.isdir(sub) or name.startswith("."):
      continue
    files = sorted(f for f in os.listdir(sub) if is_image(f))
    if files:
      labels += [len(classes)] * len(files)
      classes.append(name)
      paths += [os.path.join(sub, f) for f in files]
  if classes and top:
    raise DataError(f"data.path='{root}' holds images both directly and in class subfolders "
                    f"({', '.join(classes[:3])}...); move the loose images into a subfolder")
  if not (classes or top):
    raise DataError(f"data.path='{root}' holds no .png/.jpg/.jpeg images (directly or in "
                    "class subfolders); point it at a folder of images")
  if classes:
    return paths, np.asarray(labels, np.int32), tuple(classes)
  return top, None, ()


def load(data_cfg, split: str) -> FolderSource:
  """The `split` of the image folder at data.path.

  Args:
    data_cfg: the config's `data` section (uses path, resolution, channels, cache_dir,
      num_train, num_test).
    split: 'train' or 'test'.

  Returns:
    A source of x [res, res, C] float32 in [0, 1] (and label int32 with class subfolders).
  """
  root = str(gconfig.optional({"data": data_cfg}, "data.path"))
  if not root:
    raise DataError("data.name='folder' reads a folder of images; pass "
                    "--config.data.path=DIR (subfolders of DIR are the classes)")
  paths, labels, classes = list_images(root)
  res = int(data_cfg.resolution)
  channels = int(gconfig.optional({"data": data_cfg}, "data.channels")) or _file_channels(paths)
  key = records.file_key(root, res, channels, *(_stamp(root, p) for p in paths))
  images = records.cached_records(
      records.cache_dir(data_cfg), f"folder-{os.path.basename(os.path.normpath(root))}-{key}",
      (res, res, channels), np.uint8, len(paths), _decoded(paths, res, channels),
      f"{len(paths)} images of '{root}' at {res}x{res}x{channels}")
  info = DatasetInfo(name=NAME, x_shape=(res, res, channels), kind="image",
                     num_classes=len(classes), levels=255)
  return FolderSource(info=info, images=images, labels=labels,
                      image_indices=_split(len(paths), split, int(data_cfg.num_train),
                                           int(data_cfg.num_test)))


def _split(num: int, split: str, num_train: int, num_test: int) -> np.ndarray:
  num_test = num_test or min(MAX_DEFAULT_TEST, max(1, num // 10))
  if num_test >= num:
    raise DataError(f"data.num_test={num_test} leaves none of the folder's {num} images for "
                    "training; lower data.num_test or add images")
  perm = np.random.default_rng(SPLIT_SEED).permutation(num)
  if split == "test":
    return perm[:num_test]
  if split != "train":
    raise DataError(f"unknown split '{split}'; use 'train' or 'test'")
  train = perm[num_test:]
  if num_train > len(train):
    raise DataError(f"data.num_train={num_train} exceeds the folder's {len(train)} training "
                    "images; lower data.num_train (0 = all)")
  return train[:num_train] if num_train > 0 else train


def _stamp(root: str, path: str) -> str:
  st = os.stat(path)
  return f"{os.path.relpath(path, root)}:{st.st_size}:{st.st_mtime_ns}"


def _file_channels(paths: list[str]) -> int:
  """1 when every file is grey (read from the headers only), else 3."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  for path in paths:
    with _open_image(Image, path) as image:
      if image.mode not in _GREY_MODES:
        return 3
  return 1


def _decoded(paths: list[str], res: int, channels: int):
  """uint8 images [n, res, res, channels], _DECODE_BATCH at a time, in path order."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  mode = "L" if channels == 1 else "RGB"
  for start in range(0, len(paths), _DECODE_BATCH):
    out = np.empty((len(paths[start:start + _DECODE_BATCH]), res, res, channels), np.uint8)
    for i, path in enumerate(paths[start:start + _DECODE_BATCH]):
      with _open_image(Image, path) as image:
        try:
          pixels = resize.resize_crop(image.convert(mode), res)
        except OSError as e:  # decoding happens here: a truncated file fails now
          raise DataError(f"image '{path}' cannot be decoded ({e}); replace or remove it") from None
      out[i] = np.asarray(pixels).reshape(res, res, channels)
    yield out


def _open_image(image_module, path: str):
  try:
    return image_module.open(path)
  except OSError as e:  # PIL.UnidentifiedImageError is an OSError
    raise DataError(f"'{path}' is not a readable PNG/JPEG image ({type(e).__name__}); replace "
                    "or remove it") from None
