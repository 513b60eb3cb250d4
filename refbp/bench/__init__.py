"""Benchmarks (`refbp bench ...`): timings against torch in the same process, written to reports/bench-<id>/."""
