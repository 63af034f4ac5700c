"""certvault-agent entry point (reserved; the deployment issue builds it)."""

from __future__ import annotations

import sys


def main() -> None:
    sys.stderr.write("certvault-agent: not available yet in this version\n")
    sys.exit(2)
