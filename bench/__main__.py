"""`python -m bench`: shieldwall's performance benchmarks (see bench/README.md)."""

from bench.cli import main

raise SystemExit(main())
