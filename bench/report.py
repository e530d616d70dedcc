"""Render benchmark results as Markdown and write them into BENCHMARKS.md."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import statistics
import subprocess
from pathlib import Path

from bench.measures import LoadStats, RerunStats, nearest_rank
from bench.phases import PHASES, PhaseProfile
from bench.run import MINIMAL, BenchResults
from bench.server import ROOT, SESSION_TTL_S

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
RERUN_TARGET = 3.0  # full rerun at the defaults, as a multiple of the minimal page
PAYLOAD_TARGET = 1.5  # bytes sent per float32 byte drawn
MAX_RERUN_BYTES = 1_000_000
P95_TARGET_S = 1.0
STUDENTS = 40
CHANGES_PER_MINUTE = 12  # one slider move every 5 s


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gib() -> float:
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20  # kB to GiB
    return float("nan")


def git_revision() -> str:
    """Short commit of the checkout, with `+changes` when the tree differs from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+changes" if dirty else commit


def machine_lines() -> list[str]:
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}"
        for name in ("torch", "streamlit", "plotly", "numpy", "websockets")
    )
    return [
        f"- Machine: {os.cpu_count()} cores ({cpu_model()}), {memory_gib():.1f} GiB memory, "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}; {versions}",
        f"- Code: git {git_revision()}",
    ]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def kib(num_bytes: float) -> str:
    return f"{num_bytes / 1024:.1f} KiB"


def mib(num_bytes: float) -> str:
    return f"{num_bytes / 2**20:.1f} MiB"


def verdict(value: float, limit: float) -> str:
    """Return `yes`, or `no` with how far `value` exceeds `limit`."""
    if value <= limit:
        return "yes"
    factor = value / limit
    if factor < 2:
        return f"no, {100 * (factor - 1):.0f}% over"
    return f"no, {factor:.1f}x over"


def rerun_table(results: BenchResults) -> list[str]:
    """Rerun times, each against the minimal-page reruns interleaved with it.

    A row without interleaved reruns is set against the first row.
    """
    if MINIMAL.name not in results.reruns:
        return ["Not measured: see the failures above."]
    baseline = results.reruns[MINIMAL.name].median_s
    lines = [
        "| rerun after a change | median | minimal page alongside | ratio | messages "
        "| target | holds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, stats in results.reruns.items():
        ratio = stats.ratio(baseline)
        alongside = (
            ms(statistics.median(stats.baseline_s)) if stats.baseline_s else "first row"
        )
        at_defaults = name.startswith("defaults")
        target = f"<= {RERUN_TARGET:g}x" if at_defaults else ""
        holds = verdict(ratio, RERUN_TARGET) if at_defaults else ""
        errors = f" ({len(stats.errors)} errors)" if stats.errors else ""
        messages = statistics.median(stats.num_messages)
        lines.append(
            f"| {name}{errors} | {ms(stats.median_s)} | {alongside} | {ratio:.1f}x "
            f"| {messages:.0f} | {target} | {holds} |"
        )
    return lines


def payload_rows(results: BenchResults) -> list[RerunStats]:
    return [
        stats
        for name, stats in results.reruns.items()
        if stats.drawn_floats and "postScriptGC" not in name
    ]


def payload_table(results: BenchResults) -> list[str]:
    lines = [
        "| rerun after a change | sent per rerun (median / max) | heatmap messages "
        "| float32 drawn | all / drawn | heatmaps / drawn | max <= 1 MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for stats in payload_rows(results):
        raw = 4 * stats.drawn_floats
        ratio_all = stats.median_bytes / raw
        ratio_maps = stats.median_heatmap_bytes / raw
        lines.append(
            f"| {stats.name} | {kib(stats.median_bytes)} / {kib(stats.max_bytes)} "
            f"| {kib(stats.median_heatmap_bytes)} | {kib(raw)} ({stats.drawn_floats:,} values "
            f"of {stats.num_params:,} parameters) | {ratio_all:.2f}x ({verdict(ratio_all, PAYLOAD_TARGET)}) "
            f"| {ratio_maps:.2f}x | {verdict(stats.max_bytes, MAX_RERUN_BYTES)} |"
        )
    return lines


def bandwidth_lines(results: BenchResults) -> list[str]:
    lines = []
    for stats in payload_rows(results):
        per_minute = STUDENTS * CHANGES_PER_MINUTE * stats.median_bytes
        lines.append(
            f"- {stats.name}: {STUDENTS} students x {CHANGES_PER_MINUTE} changes a minute "
            f"x {kib(stats.median_bytes)} = {mib(per_minute)} a minute "
            f"({per_minute * 8 / 60 / 1e6:.2f} Mbit/s)"
        )
    return lines


def load_table(results: BenchResults) -> list[str]:
    lines = [
        "| server setting, pace | sessions x changes | done | p50 | p95 | max | first page p95 "
        "| errors | p95 < 1 s | RSS start / warm / peak / after |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, load in results.loads.items():
        first_p95 = nearest_rank(load.first_load_s, 0.95)
        rss = " / ".join(
            mib(v)
            for v in (load.rss_start, load.rss_before, load.rss_peak, load.rss_after)
        )
        lines.append(
            f"| {name} | {load.sessions} x {load.changes_per_session} "
            f"| {load.completed} | {ms(load.quantile(0.5))} | {ms(load.quantile(0.95))} "
            f"| {ms(max(load.latencies_s, default=float('nan')))} | {ms(first_p95)} "
            f"| {len(load.errors)} | {verdict(load.quantile(0.95), P95_TARGET_S)} | {rss} |"
        )
    return lines


def load_errors(results: BenchResults) -> list[str]:
    lines = []
    for name, load in results.loads.items():
        for error in load.errors[:5]:
            lines.append(f"- {name}: {error}")
    for name, stats in results.reruns.items():
        for error in stats.errors[:5]:
            lines.append(f"- {name}: {error}")
    return lines


def phase_table(
    phases: dict[str, PhaseProfile], reruns: dict[str, RerunStats]
) -> list[str]:
    names = list(phases)
    if not names:
        return ["Not measured: see the failures above."]
    lines = [
        "| | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
        "| rerun seen by the client (median) | "
        + " | ".join(ms(reruns[n].median_s) if n in reruns else "" for n in names)
        + " |",
        "| script alone, unprofiled (median) | "
        + " | ".join(ms(phases[n].median_script_s) for n in names)
        + " |",
    ]
    for phase, _ in PHASES:
        lines.append(
            f"| {phase} | "
            + " | ".join(f"{phases[n].share(phase):.0%}" for n in names)
            + " |"
        )
    lines.append(
        "| everything else: widgets, text, layout, session state | "
        + " | ".join(f"{phases[n].other_share:.0%}" for n in names)
        + " |"
    )
    return lines


def section_lines(phases: dict[str, PhaseProfile], top: int = 6) -> list[str]:
    """List the page sections that take longest, as shares of profiled script time."""
    lines = []
    for name, profile in phases.items():
        ranked = sorted(profile.section_s.items(), key=lambda item: -item[1])[:top]
        shares = ", ".join(
            f"`{section}` {seconds / profile.profiled_s:.0%}"
            for section, seconds in ranked
        )
        lines.append(f"- {name}: {shares}")
    return lines


def failure_lines(results: BenchResults) -> list[str]:
    """A section listing the steps that failed, or nothing when all ran."""
    if not results.failures:
        return []
    return [
        "#### Failures: the tables below miss these steps",
        "",
        *(f"- {failure}" for failure in results.failures),
        "",
    ]


def render(results: BenchResults) -> str:
    """Render the generated part of BENCHMARKS.md: date, machine and every table."""
    config = results.config
    started = dt.datetime.fromtimestamp(results.started, tz=dt.UTC)
    lines = [
        f"### Run of {started:%Y-%m-%d %H:%M} UTC",
        "",
        *machine_lines(),
        f"- Run: `make bench`, {results.duration_s:.0f} s; {config.reruns} timed reruns "
        f"per scenario after {config.warmup} untimed; servers on loopback with the "
        f"project's `.streamlit/config.toml` and `server.disconnectedSessionTTL={SESSION_TTL_S}`",
        "",
        *failure_lines(results),
        "#### Rerun cost",
        "",
        *rerun_table(results),
        "",
        "#### Payload per rerun, as a browser with a warm message cache receives it",
        "",
        *payload_table(results),
        "",
        *bandwidth_lines(results),
        "",
        f"#### Classroom load: {config.sessions} sessions at once, pauses of +-50% "
        "around the stated one",
        "",
        *load_table(results),
        "",
        *load_errors(results),
        "",
        "#### Where a rerun's time goes (AppTest, cProfile shares of script time)",
        "",
        *phase_table(results.phases, results.reruns),
        "",
        "Largest page sections (functions app.py's `main` calls), as shares of profiled "
        "script time:",
        "",
        *section_lines(results.phases),
    ]
    return "\n".join(lines) + "\n"


def write_report(text: str, path: Path) -> None:
    """Replace the generated block of `path`, or append one if it has none."""
    block = f"{BEGIN}\n{text}{END}"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        new = head + block + tail
    else:
        new = old + ("\n" if old and not old.endswith("\n") else "") + block + "\n"
    path.write_text(new, encoding="utf-8")


def load_summary(load: LoadStats) -> str:
    return (
        f"p50 {ms(load.quantile(0.5))}, p95 {ms(load.quantile(0.95))}, "
        f"errors {len(load.errors)}"
    )
