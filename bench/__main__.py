"""``make bench``: run every benchmark, then print one JSON line of all figures.

Each benchmark module exposes ``run() -> dict[str, float]``; it prints its own
readable lines (each figure beside its baseline measured in the same run) and returns
the figures for the final JSON line.
"""

from __future__ import annotations

import importlib
import json

MODULES = [
    "bench.verify",
    "bench.throughput",
    "bench.fastapi_throughput",
    "bench.token_kinds",
    "bench.dpop",
]


def main() -> None:
    figures: dict[str, float] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        figures.update(module.run())
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
