"""`make bench-designs`: the Design 1 vs Design 2 section alone (bench/designs.py), its progress,
then its Markdown on stdout and its record as JSON with --json.

    python -m bench.designs_cli [--quick | --plan quick|medium|full] [--json FILE]

A module of its own because the Markdown is bench.report's, and bench.report also renders the
sections that reuse bench.designs' containers (bench.front_memory): the CLI sits above both.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench import machine, report
from bench.designs import PLANS, run_designs
from bench.records import Designs


def main(argv: list[str] | None = None) -> int:
    """The section alone: progress, then its Markdown on stdout (and its JSON with --json)."""
    parser = argparse.ArgumentParser(prog="python -m bench.designs_cli", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--plan", choices=list(PLANS), default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the section's record here")
    args = parser.parse_args(argv)
    name = args.plan or ("quick" if args.quick else "full")
    at_start = machine.machine()
    result = run_designs(PLANS[name])
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=1) + "\n")
    print("\n".join(report.designs_lines(result, at_start)))
    return 0 if isinstance(result, Designs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
