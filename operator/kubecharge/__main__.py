"""`python -m kubecharge` runs the CLI."""

from kubecharge.cli import main

main()
