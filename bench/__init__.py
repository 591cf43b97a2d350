"""The benchmark suite: ``python -m bench`` (see ``bench/run.py`` and docs/benchmarks.md).

Every figure is measured beside its baseline in the same run (alternating trials, medians
over repeated trials) and printed with the ratio; nothing here is ever a timed assertion.
"""
