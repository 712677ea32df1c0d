"""Benchmarks of serverops against the floor: the same API work done directly.

Run ``.venv/bin/python -m benchmarks.run``; see ``docs/benchmarks.md`` for what each part
measures and the latest results.
"""
