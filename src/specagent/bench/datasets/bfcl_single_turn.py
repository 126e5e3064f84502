"""Old import path of :mod:`specagent.bench.datasets.bfcl.single_turn`, kept while
``benchmarks/final_words.py`` and ``tests/test_bench_assistant_runs.py`` still use it."""

from .bfcl.single_turn import *  # noqa: F403
from .bfcl.single_turn import __all__  # noqa: F401
