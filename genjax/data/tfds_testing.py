"""Builds a tiny on-disk TFDS dataset without TensorFlow, for tests of the TFDS source.

What works without TensorFlow (tensorflow-datasets 4.9.10): a `GeneratorBasedBuilder` with
`file_format='array_record'` whose `features.Image` examples are PIL images (numpy-fed
`Image` features encode PNG through TensorFlow). The result is read back by
`tfds.data_source(name, data_dir=...)` in any process, through TFDS's read-only builder, which
needs no builder class; the builder here is defined unregistered, so building several tiny
datasets in one process does not collide in TFDS's registry.
"""
from __future__ import annotations

import numpy as np

NUM_CLASSES = 10


def tiny_image(i: int, shape: tuple[int, int, int]) -> np.ndarray:
  """The uint8 image of example `i`: pixel [0, 0, 0] holds i (its id), the rest a fixed ramp.

  Stored order is shuffled by key hash, so a test reads the id back from the first pixel
  and compares the whole image with this function.
  """
  h, w, c = shape
  ramp = (np.arange(h * w * c).reshape(h, w, c) * 7 + 3 * i) % 256
  image = ramp.astype(np.uint8)
  image[0, 0, 0] = i
  return image


def build_tiny_dataset(data_dir: str, name: str = "genjax_tiny", num_train: int = 64,
                       num_test: int = 16, shape: tuple[int, int, int] = (16, 16, 1)) -> str:
  """Writes a tiny image-classification dataset `name` with 'train' and 'test' under `data_dir`.

  Example i (train: 0 .. num_train-1, test: num_train ..) has image `tiny_image(i, shape)` and
  label i % 10.

  Args:
    data_dir: TFDS data directory to write into (`data_dir/name/1.0.0/...`).
    name: dataset name, as later given to `tfds.data_source`.
    num_train: number of training examples (ids must fit a uint8 pixel: total <= 256).
    num_test: number of test examples.
    shape: image shape [H, W, C], C in {1, 3}.

  Returns:
    The dataset's directory.
  """
  import tensorflow_datasets as tfds  # slow import: only where a dataset is built
  from PIL import Image

  if num_train + num_test > 256:
    raise ValueError("tiny datasets hold at most 256 examples (ids are stored in a uint8 pixel)")
  mode = {1: "L", 3: "RGB"}[shape[-1]]

  def to_pil(image: np.ndarray):
    return Image.fromarray(image[..., 0] if mode == "L" else image, mode=mode)

  class TinyBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Deterministic images whose first pixel names the example."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
      return self.dataset_info_from_configs(features=tfds.features.FeaturesDict({
          "image": tfds.features.Image(shape=shape),
          "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
      }))

    def _split_generators(self, dl_manager):
      del dl_manager  # nothing to download
      return {"train": self._generate_examples(0, num_train),
              "test": self._generate_examples(num_train, num_test)}

    def _generate_examples(self, start, num):
      for i in range(start, start + num):
        yield i, {"image": to_pil(tiny_image(i, shape)), "label": i % NUM_CLASSES}

  TinyBuilder.name = name
  builder = TinyBuilder(data_dir=data_dir, file_format="array_record")
  builder.download_and_prepare()
  return str(builder.data_dir)
