"""The benchmark run: which servers start, which scenarios run on them, in what order."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bench.client import Session
from bench.measures import (
    Baseline,
    LoadStats,
    RerunStats,
    Scenario,
    classroom,
    fresh_seeds,
    run_scenario,
    toggle,
)
from bench.phases import PhaseProfile, profile_scenario
from bench.server import APP, MINIMAL_APP, Server, start_server
from components.figures import MAX_HEATMAP_CELLS
from mlp.params import count_parameters
from mlp.spec import (
    DEFAULT_SPEC,
    MAX_HIDDEN_LAYERS,
    MAX_IN_FEATURES,
    MAX_OUT_FEATURES,
    MAX_WIDTH,
    MLPSpec,
)

logger = logging.getLogger(__name__)

LARGEST_SPEC = MLPSpec(
    in_features=MAX_IN_FEATURES,
    hidden_widths=(MAX_WIDTH,) * MAX_HIDDEN_LAYERS,
    out_features=MAX_OUT_FEATURES,
)
# Two reruns set the largest architecture: the width sliders of layers 3 to 8 only
# exist once the page has drawn them.
LARGEST_SETUP = (
    {
        "in_features": MAX_IN_FEATURES,
        "n_hidden": MAX_HIDDEN_LAYERS,
        "out_features": MAX_OUT_FEATURES,
    },
    {f"width_{i}": MAX_WIDTH for i in range(MAX_HIDDEN_LAYERS)},
)
COLD_SEED = 1_000_000  # seeds from here on are used by no other scenario
LOG_DIR = Path(__file__).resolve().parent.parent / "test-artifacts" / "bench"


@dataclass(frozen=True)
class BenchConfig:
    """Counts and time limits of one benchmark run."""

    reruns: int = 12
    warmup: int = 2
    sessions: int = 40
    changes: int = 20
    pause_s: float = 1.0
    # The pace a lesson keeps, one slider move per student every 5 s, as in the
    # bandwidth figures: fewer changes, so the run stays short.
    lesson_changes: int = 6
    lesson_pause_s: float = 5.0
    gc_changes: int = 3  # changes per student with postScriptGC=true, which is slow
    profile_runs: int = 5
    timeout_s: float = 420.0


QUICK_CONFIG = BenchConfig(
    reruns=3,
    warmup=1,
    sessions=5,
    changes=3,
    pause_s=0.3,
    lesson_changes=0,
    gc_changes=2,
    profile_runs=2,
    timeout_s=180.0,
)


@dataclass
class BenchResults:
    """Everything one run measured, in the order the report shows it."""

    config: BenchConfig
    started: float = field(default_factory=time.time)
    duration_s: float = 0.0
    reruns: dict[str, RerunStats] = field(default_factory=dict)
    loads: dict[str, LoadStats] = field(default_factory=dict)
    phases: dict[str, PhaseProfile] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # steps that raised


def pooled_side(size: int, max_cells: int = MAX_HEATMAP_CELLS) -> int:
    """Cells a heatmap side of `size` becomes after mean-pooling in blocks."""
    block = math.ceil(size / max_cells)
    return math.ceil(size / block)


def drawn_floats(spec: MLPSpec) -> int:
    """float32 values the weight heatmaps of `spec` draw: pooled weights and biases."""
    total = 0
    for in_features, out_features in spec.linear_shapes():
        rows, cols = pooled_side(out_features), pooled_side(in_features)
        total += rows * cols + (rows if spec.bias else 0)
    return total


def app_scenarios() -> list[Scenario]:
    """Reruns of the app at the defaults and at the largest architecture."""
    default_sizes = {
        "drawn_floats": drawn_floats(DEFAULT_SPEC),
        "num_params": count_parameters(DEFAULT_SPEC).num_params,
    }
    largest_sizes = {
        "drawn_floats": drawn_floats(LARGEST_SPEC),
        "num_params": count_parameters(LARGEST_SPEC).num_params,
    }
    return [
        Scenario(
            "defaults, width slider", (), toggle("width_0", (9, 8)), **default_sizes
        ),
        Scenario("defaults, new seed", (), fresh_seeds(COLD_SEED), **default_sizes),
        Scenario(
            "defaults, typing x[0]",
            (),
            toggle("x_0", ("0.5", "-0.25")),
            **default_sizes,
        ),
        Scenario(
            "largest, width slider",
            LARGEST_SETUP,
            toggle("width_0", (MAX_WIDTH - 1, MAX_WIDTH)),
            **largest_sizes,
        ),
        Scenario(
            "largest, new seed", LARGEST_SETUP, fresh_seeds(COLD_SEED), **largest_sizes
        ),
    ]


MINIMAL = Scenario("minimal page", (), toggle("value", (10, 20)))


async def run_on_server(
    script: Path,
    options: dict[str, str] | None,
    work: Callable[[Server], Awaitable[None]],
) -> None:
    """Start a server for `script`, run `work(server)` on it, and always stop it.

    Start and stop block the event loop for a few seconds, which is harmless because
    nothing else runs meanwhile, and they stay on the main thread, whose exit the
    server's parent-death signal is tied to.
    """
    server = start_server(script, LOG_DIR, options)
    try:
        await work(server)
    finally:
        server.stop()


async def measure_reruns(results: BenchResults) -> None:
    """Time the minimal page, then each app scenario paired with minimal-page reruns."""
    config = results.config

    async def with_app(minimal: Server, app: Server) -> None:
        stats = await run_scenario(minimal, MINIMAL, config.reruns, config.warmup)
        results.reruns[MINIMAL.name] = stats
        # Without a pause, as when a slider is moved several times in a row.
        slow = await run_scenario(
            minimal,
            MINIMAL,
            config.reruns,
            config.warmup,
            prompt_ack=False,
            pause_s=0.0,
        )
        slow.name = "minimal page, back-to-back, client ACKs like a Linux browser"
        results.reruns[slow.name] = slow

        session = Session(minimal.port)
        await session.connect()
        try:
            await session.rerun()
            baseline = Baseline(session, MINIMAL)
            for scenario in app_scenarios():
                results.reruns[scenario.name] = await run_scenario(
                    app, scenario, config.reruns, config.warmup, baseline=baseline
                )
        finally:
            await session.close()

    async def with_minimal(minimal: Server) -> None:
        await run_on_server(APP, None, partial(with_app, minimal))

    await run_on_server(MINIMAL_APP, None, with_minimal)


async def measure_classroom(
    results: BenchResults,
    changes: int,
    pause_s: float,
    post_script_gc: bool = False,
) -> None:
    """Run one classroom load on a fresh server, so its memory readings are its own."""
    config = results.config
    options = {"runner.postScriptGC": str(post_script_gc).lower()}
    label = (
        f"postScriptGC={options['runner.postScriptGC']}, a change every {pause_s:g} s"
    )

    async def work(server: Server) -> None:
        load = await classroom(server, config.sessions, changes, pause_s)
        results.loads[label] = load
        if post_script_gc:
            scenario = app_scenarios()[0]
            stats = await run_scenario(server, scenario, config.reruns, config.warmup)
            results.reruns[f"{scenario.name}, postScriptGC=true"] = stats

    await run_on_server(APP, options, work)


def measure_phases(results: BenchResults) -> None:
    runs = results.config.profile_runs
    for scenario in app_scenarios():
        if "typing" in scenario.name:
            continue
        try:
            results.phases[scenario.name] = profile_scenario(
                scenario.name, scenario.setup, scenario.change, runs
            )
        except Exception as err:  # reported, and the other scenarios still run
            logger.exception("profile of %s failed", scenario.name)
            results.failures.append(f"profile of {scenario.name}: {err}")


async def guarded(results: BenchResults, name: str, step: Awaitable[None]) -> None:
    """Await `step`; record a failure instead of losing the other steps' results."""
    try:
        await step
    except Exception as err:
        logger.exception("%s failed", name)
        results.failures.append(f"{name}: {type(err).__name__}: {err}")


async def run_all(config: BenchConfig) -> BenchResults:
    """Run every measure in turn; each server is stopped before the next starts."""
    results = BenchResults(config)
    await guarded(results, "reruns", measure_reruns(results))
    await guarded(
        results,
        "classroom load",
        measure_classroom(results, config.changes, config.pause_s),
    )
    if config.lesson_changes:
        await guarded(
            results,
            "classroom load at a lesson's pace",
            measure_classroom(results, config.lesson_changes, config.lesson_pause_s),
        )
    await guarded(
        results,
        "classroom load with postScriptGC=true",
        measure_classroom(
            results, config.gc_changes, config.pause_s, post_script_gc=True
        ),
    )
    await asyncio.to_thread(measure_phases, results)
    results.duration_s = time.time() - results.started
    return results
