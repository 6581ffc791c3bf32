"""`python -m genjax ...` is the `genjax` command."""
from genjax import interrupt

interrupt.install()  # before the heavy imports below

from genjax.cli import run  # pylint: disable=g-import-not-at-top,wrong-import-position

run()
