"""The benchmark's measures: rerun cost and payload of one session, and a classroom load."""

from __future__ import annotations

import asyncio
import logging
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.client import Session
from bench.server import SESSION_TTL_S, Server

logger = logging.getLogger(__name__)

Change = dict[str, object]  # widget key -> new value, as a browser sends it

# Pause before each timed rerun, as a person's next change would have. Streamlit's
# message loop sleeps 5 ms after each flush, so a request sent the instant the last
# run finished can wait for that sleep, and an idle server answers sooner. With the
# pause, every page is timed from the same idle state.
RERUN_PAUSE_S = 0.05


@dataclass(frozen=True)
class Scenario:
    """A page, the controls set once before timing, and the change made on each rerun."""

    name: str
    setup: tuple[Change, ...]
    change: Callable[[int], Change]  # rerun number -> the change that triggers it
    drawn_floats: int = 0  # float32 values the weight heatmaps draw, after pooling
    num_params: int = 0


@dataclass
class RerunStats:
    """Timings and sizes of the measured reruns of one scenario."""

    name: str
    latencies_s: list[float] = field(default_factory=list)
    num_bytes: list[int] = field(default_factory=list)
    heatmap_bytes: list[int] = field(default_factory=list)
    num_refs: list[int] = field(default_factory=list)
    num_messages: list[int] = field(default_factory=list)
    baseline_s: list[float] = field(default_factory=list)  # interleaved minimal page
    errors: list[str] = field(default_factory=list)
    drawn_floats: int = 0
    num_params: int = 0

    @property
    def median_s(self) -> float:
        return statistics.median(self.latencies_s)

    def ratio(self, fallback_s: float) -> float:
        """Median over the interleaved baseline's median, or over `fallback_s`."""
        baseline = statistics.median(self.baseline_s) if self.baseline_s else fallback_s
        return self.median_s / baseline

    @property
    def median_bytes(self) -> float:
        return statistics.median(self.num_bytes)

    @property
    def max_bytes(self) -> int:
        return max(self.num_bytes)

    @property
    def median_heatmap_bytes(self) -> float:
        return statistics.median(self.heatmap_bytes)


def nearest_rank(values: list[float], q: float) -> float:
    """Return the q-quantile of `values` by nearest rank, or NaN when there are none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))
    return ordered[rank]


def toggle(key: str, values: tuple[object, ...]) -> Callable[[int], Change]:
    """Changes that cycle `key` through `values`, so caches warm up after one cycle."""
    return lambda i: {key: values[i % len(values)]}


def fresh_seeds(first_seed: int) -> Callable[[int], Change]:
    """Changes that set a seed never used before, so nothing is cached."""
    return lambda i: {"seed": first_seed + i}


class Baseline:
    """A session on the minimal page whose reruns alternate with a scenario's.

    Background load on a shared machine changes within seconds, so each timed rerun
    of a scenario is paired with a minimal-page rerun made right after it.
    """

    def __init__(self, session: Session, scenario: Scenario) -> None:
        self.session = session
        self.scenario = scenario
        self.count = 0

    async def rerun(self) -> float:
        await asyncio.sleep(RERUN_PAUSE_S)
        result = await self.session.rerun(self.scenario.change(self.count))
        self.count += 1
        if result.errors:
            raise RuntimeError(f"minimal page reported errors: {result.errors}")
        return result.latency_s


async def run_scenario(
    server: Server,
    scenario: Scenario,
    reruns: int,
    warmup: int = 2,
    prompt_ack: bool = True,
    baseline: Baseline | None = None,
    pause_s: float = RERUN_PAUSE_S,
) -> RerunStats:
    """Run `warmup` untimed reruns, then `reruns` timed ones, in one session.

    With a `baseline`, a minimal-page rerun follows each timed rerun.
    """
    stats = RerunStats(
        scenario.name,
        drawn_floats=scenario.drawn_floats,
        num_params=scenario.num_params,
    )
    session = Session(server.port, prompt_ack=prompt_ack)
    await session.connect()
    try:
        first = await session.rerun()
        stats.errors += first.errors
        for change in scenario.setup:
            stats.errors += (await session.rerun(change)).errors
        for i in range(warmup + reruns):
            await asyncio.sleep(pause_s)
            result = await session.rerun(scenario.change(i))
            stats.errors += result.errors
            if i < warmup:
                continue
            if baseline is not None:
                stats.baseline_s.append(await baseline.rerun())
            stats.latencies_s.append(result.latency_s)
            stats.num_bytes.append(result.num_bytes)
            stats.num_refs.append(result.num_ref_messages)
            stats.num_messages.append(result.num_messages)
            stats.heatmap_bytes.append(
                sum(
                    size
                    for key, size in result.bytes_by_key.items()
                    if key.startswith("heatmap_")
                )
            )
    finally:
        await session.close()
    logger.info(
        "%s: median %.1f ms, median %d bytes, errors %d",
        scenario.name,
        stats.median_s * 1000,
        stats.median_bytes,
        len(stats.errors),
    )
    return stats


@dataclass
class LoadStats:
    """Latencies, errors and server memory of one classroom load."""

    sessions: int
    changes_per_session: int
    pause_s: float
    first_load_s: list[float] = field(default_factory=list)
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rss_start: int = 0  # fresh server, before any session
    rss_before: int = 0  # after one warm-up session ran and closed
    rss_peak: int = 0
    rss_after: int = 0  # sessions closed and expired
    duration_s: float = 0.0
    num_bytes: int = 0  # all change reruns together

    def quantile(self, q: float) -> float:
        """Return the q-quantile of the change latencies, by nearest rank."""
        return nearest_rank(self.latencies_s, q)

    @property
    def completed(self) -> int:
        return len(self.latencies_s)


async def one_run(server: Server) -> None:
    """Open a session, run the page once at the defaults, and close it."""
    session = Session(server.port)
    await session.connect()
    try:
        result = await session.rerun()
        if result.errors:
            logger.warning("warm-up run reported errors: %s", result.errors)
    finally:
        await session.close()


async def sample_rss(server: Server, stats: LoadStats, stop: asyncio.Event) -> None:
    """Record the server's peak resident memory until `stop` is set."""
    while not stop.is_set():
        stats.rss_peak = max(stats.rss_peak, server.rss())
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.25)
        except TimeoutError:
            pass


async def student(
    server: Server,
    index: int,
    stats: LoadStats,
    sessions: list[Session],
    rng: random.Random,
) -> None:
    """Open the page as one student, then move the first width slider with pauses."""
    session = Session(server.port, timeout_s=120.0)
    sessions.append(session)
    try:
        await session.connect()
        first = await session.rerun()
        stats.first_load_s.append(first.latency_s)
        stats.errors += [f"session {index}: {err}" for err in first.errors]
        for _ in range(stats.changes_per_session):
            low, high = 0.5 * stats.pause_s, 1.5 * stats.pause_s
            await asyncio.sleep(rng.uniform(low, high))
            result = await session.rerun({"width_0": rng.randint(4, 16)})
            stats.latencies_s.append(result.latency_s)
            stats.num_bytes += result.num_bytes
            stats.errors += [f"session {index}: {err}" for err in result.errors]
    except Exception as err:  # a failed session is counted, and the others go on
        stats.errors.append(f"session {index}: {type(err).__name__}: {err}")


async def classroom(
    server: Server,
    sessions: int,
    changes: int,
    pause_s: float,
    seed: int = 0,
) -> LoadStats:
    """Run `sessions` students at once, each making `changes` slider changes."""
    stats = LoadStats(sessions, changes, pause_s)
    stats.rss_start = server.rss()
    # One run first, so that "before" includes torch, plotly and the default network.
    await one_run(server)
    stats.rss_before = server.rss()
    stats.rss_peak = stats.rss_before

    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(server, stats, stop))
    open_sessions: list[Session] = []
    rng = random.Random(seed)  # the same pauses and slider values in every run
    students = [
        student(server, i, stats, open_sessions, random.Random(rng.random()))
        for i in range(sessions)
    ]
    started = time.perf_counter()
    await asyncio.gather(*students)
    stats.duration_s = time.perf_counter() - started

    await asyncio.gather(*(s.close() for s in open_sessions), return_exceptions=True)
    stop.set()
    await sampler
    stats.rss_after = await rss_after_expiry(server)
    logger.info(
        "classroom %d x %d: p50 %.0f ms, p95 %.0f ms, errors %d",
        sessions,
        changes,
        stats.quantile(0.5) * 1000,
        stats.quantile(0.95) * 1000,
        len(stats.errors),
    )
    return stats


async def rss_after_expiry(server: Server) -> int:
    """Read the server's memory once closed sessions have outlived their reconnect TTL.

    Streamlit drops an expired session only when its session store is next written,
    so one short session is opened after the TTL to trigger that.
    """
    await asyncio.sleep(SESSION_TTL_S + 1.0)
    await one_run(server)
    await asyncio.sleep(1.0)
    return server.rss()
