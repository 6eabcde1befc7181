"""`python -m labs [name] [options]` (what `./run lab` runs)."""

from labs.cli import run

run()
