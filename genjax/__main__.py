"""`python -m genjax ...` is the `genjax` command."""
from genjax.cli import run

run()
