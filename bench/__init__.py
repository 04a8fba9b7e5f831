"""Benchmark of the Workpool server; run it with ``python bench/run.py``."""
