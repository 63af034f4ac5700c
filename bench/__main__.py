"""Run every benchmark: `python -m bench` (or `make bench`). Each prints its own figures."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> None:
    wanted = set(sys.argv[1:])
    here = Path(__file__).parent
    for info in sorted(pkgutil.iter_modules([str(here)]), key=lambda m: m.name):
        if not info.ispkg or (wanted and info.name not in wanted):
            continue
        module = importlib.import_module(f"bench.{info.name}.__main__")
        print(f"\n=== bench.{info.name} ===", flush=True)
        module.main()


if __name__ == "__main__":
    main()
