"""Benchmarks: they print figures (ratios against a reference run side by side), never assert."""
