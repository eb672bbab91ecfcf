"""Benchmarks (not tests): run them all with `python -m bench` or `make bench`.

Each module has `main(argv) -> int`, prints its figures and writes a JSON record
to `bench/results/`.
"""
