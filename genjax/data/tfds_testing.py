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


def build_factor_dataset(data_dir: str, name: str, version: str, image_shape: tuple[int, ...],
                         labels: dict[str, int], splits: dict[str, "np.ndarray"],
                         binary: bool = False, attributes: tuple[str, ...] = ()) -> str:
  """Writes a TFDS build named like a field dataset (dsprites, shapes3d, smallnorb, celeb_a)
  with a reduced grid: the label features `labels` (name -> number of classes), in grid
  order, and per split the flat grid indices it holds (written in that order).

  Record f has image `file_testing.marked_images(image_shape, binary)([f])` and label
  features the digits of f in the grid; with `attributes`, it instead has an 'attributes'
  dict whose attribute j is bit j of f (celeb_a's layout). The version must be the
  registered builder's, so that `tfds.builder(name, data_dir)` finds the files.

  Returns:
    The dataset's directory.
  """
  import tensorflow_datasets as tfds  # slow import: only where a dataset is built
  from PIL import Image

  from genjax.data import file_testing  # pylint: disable=g-import-not-at-top

  sizes = tuple(labels.values())
  image_fn = file_testing.marked_images(image_shape, binary)
  features = {"image": tfds.features.Image(shape=image_shape)}
  features.update({f: tfds.features.ClassLabel(num_classes=n) for f, n in labels.items()})
  if attributes:
    features["attributes"] = {a: np.bool_ for a in attributes}

  class FactorBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A reduced grid of marked images in a field dataset's feature layout."""

    VERSION = tfds.core.Version(version)

    def _info(self):
      return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(features))

    def _split_generators(self, dl_manager):
      del dl_manager  # nothing to download
      return {s: self._generate_examples(flat) for s, flat in splits.items()}

    def _generate_examples(self, flat):
      for f in flat:
        image = image_fn(np.array([f]))[0]
        record = {"image": Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)}
        if sizes:
          record.update(zip(labels, (int(d) for d in file_testing.grid_factors(sizes, f, f + 1)[0])))
        if attributes:
          record["attributes"] = {a: bool((int(f) >> j) & 1) for j, a in enumerate(attributes)}
        yield int(f), record

  FactorBuilder.name = name
  builder = FactorBuilder(data_dir=data_dir, file_format="array_record")
  builder.download_and_prepare()
  return str(builder.data_dir)
