"""Peak memory and batch rate of the field datasets' readers on full-size files.

  python benchmarks/data_memory.py                           # every format, in a temp dir
  python benchmarks/data_memory.py --formats dsprites --batches 500 --dir /big/disk --keep

Writes each dataset at its real size in its authors' exact format (genjax/data/file_testing.py):
dSprites (737,280 images, content rendered by our sprites renderer, so it compresses like
the real file), 3D Shapes (480,000 x 64x64x3) contiguous and gzip-chunked, MPI3D (1,036,800
x 64x64x3) stored and deflated (synthetic content: a colour per image and a noise patch).
Then, in a fresh process per case, it loads the training split through genjax.data.load,
draws `--batches` batches of 64 through the training pipeline (pipeline.TrainBatches, as
the runner does) and asks for 10,000 cells by factors (what the disentanglement metrics
do), printing one JSON line: seconds to load (including any one-time extraction, whose run
is marked `first`), batches/s, the peak resident memory (getrusage ru_maxrss) and the
resident memory at the end (VmRSS). Compressed layouts run twice: the extraction, then the
cached read. Needs about 45 GB of free disk for every format.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from genjax.data import file_testing, sprites  # noqa: E402

FORMATS = ("dsprites", "shapes3d", "shapes3d_chunked", "mpi3d", "mpi3d_compressed")
FILE_NAMES = {"dsprites": "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz",
              "shapes3d": "3dshapes.h5", "shapes3d_chunked": "3dshapes_chunked.h5",
              "mpi3d": "mpi3d_toy.npz", "mpi3d_compressed": "mpi3d_real.npz"}


def sprite_images(flat_N: np.ndarray) -> np.ndarray:
  """dSprites content: our renderer's 64x64 image of each flat index (uint8 0/1)."""
  return sprites.render(sprites.factors_from_indices(flat_N), 64)[..., 0].astype(np.uint8)


def colour_images(flat_N: np.ndarray) -> np.ndarray:
  """Synthetic RGB content: a colour per image and a 16x16 noise patch, seeded by the index."""
  rng = np.random.default_rng(int(flat_N[0]))
  out = np.empty((len(flat_N), 64, 64, 3), np.uint8)
  out[:] = rng.integers(0, 256, (len(flat_N), 1, 1, 3), dtype=np.uint8)
  out[:, 24:40, 24:40] = rng.integers(0, 256, (len(flat_N), 16, 16, 3), dtype=np.uint8)
  return out


def write(fmt: str, path: str) -> float:
  start = time.perf_counter()
  if fmt == "dsprites":
    file_testing.write_dsprites(path, image_fn=sprite_images)
  elif fmt.startswith("shapes3d"):
    file_testing.write_shapes3d(path, image_fn=colour_images, chunked=fmt.endswith("chunked"))
  else:
    file_testing.write_mpi3d(path, image_fn=colour_images, compressed=fmt.endswith("compressed"))
  return time.perf_counter() - start


def measure(fmt: str, path: str, cache: str, batches: int) -> dict:
  """In this (fresh) process: load, draw batches, draw 10,000 cells by factors."""
  from genjax import config as gconfig  # pylint: disable=g-import-not-at-top
  from genjax import data as gdata  # pylint: disable=g-import-not-at-top
  from genjax.data import pipeline  # pylint: disable=g-import-not-at-top
  cfg = gconfig.base_config().data
  cfg.update(dict(name=fmt.split("_")[0], path=path, cache_dir=cache))
  start = time.perf_counter()
  source = gdata.load(cfg, "train")
  load_s = time.perf_counter() - start
  it = pipeline.TrainBatches(source, 64, seed=0)
  next(it)
  start = time.perf_counter()
  for _ in range(batches):
    x = next(it)["x"]
  rate = batches / (time.perf_counter() - start)
  it.close()
  rng = np.random.default_rng(0)
  factors = np.stack([rng.integers(0, s, 10_000) for s in source.info.factor_sizes], 1)
  start = time.perf_counter()
  for lo in range(0, 10_000, 500):
    source.get_by_factors(factors[lo:lo + 500])
  by_factors_s = time.perf_counter() - start
  with open("/proc/self/status") as f:
    rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:")) / 1024
  return {"format": fmt, "images": len(source), "x_shape": list(x.shape[1:]),
          "load_s": round(load_s, 2), "batches_per_s": round(rate, 1),
          "by_factors_10k_s": round(by_factors_s, 2),
          "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
          "end_rss_mb": round(rss)}


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--formats", default=",".join(FORMATS))
  parser.add_argument("--batches", type=int, default=300)
  parser.add_argument("--dir", default="")
  parser.add_argument("--keep", action="store_true", help="keep the written files")
  parser.add_argument("--measure", nargs=3, metavar=("FORMAT", "PATH", "CACHE"),
                      help=argparse.SUPPRESS)  # the child process's entry
  args = parser.parse_args()
  if args.measure:
    print(json.dumps(measure(*args.measure, args.batches)))
    return
  root = args.dir or tempfile.mkdtemp(prefix="genjax_data_memory_")
  os.makedirs(root, exist_ok=True)
  try:
    for fmt in args.formats.split(","):
      path = os.path.join(root, FILE_NAMES[fmt])
      seconds = write(fmt, path)
      print(json.dumps({"format": fmt, "file_gb": round(os.path.getsize(path) / 1e9, 3),
                        "write_s": round(seconds, 1)}), flush=True)
      cache = os.path.join(root, "cache")
      runs = ("first", "cached") if fmt.endswith(("chunked", "compressed")) else ("only",)
      for run in runs:
        out = subprocess.run([sys.executable, __file__, "--batches", str(args.batches),
                              "--measure", fmt, path, cache], capture_output=True, text=True,
                             check=True)
        record = json.loads(out.stdout.strip().splitlines()[-1])
        print(json.dumps({**record, "run": run}), flush=True)
      if not args.keep:
        os.remove(path)
        shutil.rmtree(cache, ignore_errors=True)
  finally:
    if not args.keep and not args.dir:
      shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
  main()
