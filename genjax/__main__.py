"""The `genjax` command (`python -m genjax ...` and the `genjax` console script)."""
import sys

from genjax import interrupt, malloc_env


def main() -> None:
  """Sets the allocator up (one re-exec, genjax/malloc_env.py), then runs the CLI."""
  try:
    malloc_env.reexec_with_tunables()
  except malloc_env.GenjaxMallocError as e:
    print(f"genjax: error: {e}", file=sys.stderr, flush=True)
    sys.exit(2)
  interrupt.install()  # before the heavy imports below
  from genjax.cli import run  # pylint: disable=g-import-not-at-top
  run()


if __name__ == "__main__":
  main()
