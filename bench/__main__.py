"""Command line of the benchmark: `python -m bench [--quick] [--output FILE]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bench.report import render, write_report
from bench.run import LOG_DIR, QUICK_CONFIG, BenchConfig, run_all
from bench.server import ROOT

logger = logging.getLogger("bench")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure rerun cost, payload and a classroom load of MLP Explorer "
        "against a minimal Streamlit page, on servers started on loopback ports.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 3 reruns per scenario, 5 sessions x 3 changes; "
        "prints the tables and writes no file unless --output is given",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="Markdown file whose generated block is replaced "
        "(default: BENCHMARKS.md for a full run, none for --quick)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds after which the whole run stops (default: 420, or 180 with --quick)",
    )
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = QUICK_CONFIG if args.quick else BenchConfig()
    timeout_s = args.timeout or config.timeout_s
    try:
        results = asyncio.run(asyncio.wait_for(run_all(config), timeout_s))
    except TimeoutError:
        logger.error("benchmark timed out after %.0f s; no report written", timeout_s)
        return 1
    text = render(results)
    print(text)
    output = args.output or (None if args.quick else ROOT / "BENCHMARKS.md")
    if results.failures and args.output is None and output is not None:
        # A partial run must not replace the last complete results.
        output = LOG_DIR / "BENCHMARKS-failed.md"
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        write_report(text, output)
        logger.info("wrote %s", output)
    if results.failures:
        logger.error(
            "%d benchmark steps failed: %s", len(results.failures), results.failures
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
