"""The ``yunying`` command line: a thin Typer shell over the service functions."""
