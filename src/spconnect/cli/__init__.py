"""The Typer command-line interface: parse flags, call plain functions, render results."""
