"""``python -m soc`` runs the CLI."""

from soc.cli.main import run

run()
