"""Helpers the notebooks import: data, networks, backward rules, metrics, plots, results files."""
