"""``python -m einderive``: the same command line as ``einderive``."""

from .cli import main

main(prog_name="einderive")
