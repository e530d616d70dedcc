"""Where a rerun's time goes: the page script run in-process by AppTest and profiled.

AppTest runs `app.py` with Streamlit's own script runner but without a server, so
the times here cover the script alone. cProfile slows pure-Python code (plotly,
Streamlit) more than torch's C++ kernels. The shares are therefore a guide to where
time goes, not exact costs, and the script time is measured in separate runs without
the profiler.
"""

from __future__ import annotations

import cProfile
import logging
import pstats
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from streamlit.runtime.scriptrunner import script_runner
from streamlit.testing.v1 import AppTest

from bench.measures import Change
from bench.server import APP, ROOT

logger = logging.getLogger(__name__)

FuncKey = tuple[str, int, str]  # (file name, line, function name), as pstats stores it
MLP_DIR = str(ROOT / "mlp")
COMPONENTS_DIR = str(ROOT / "components")


def is_build(func: FuncKey) -> bool:
    return func[0] == str(ROOT / "mlp" / "network.py") and func[2] == "build_model"


def is_mlp(func: FuncKey) -> bool:
    return func[0].startswith(MLP_DIR) and not is_build(func)


def is_figure_builder(func: FuncKey) -> bool:
    path = Path(func[0])
    return func[0].startswith(COMPONENTS_DIR) and path.name.endswith("figures.py")


def is_chart_serialisation(func: FuncKey) -> bool:
    return func[0].endswith("streamlit/elements/plotly_chart.py")


def is_table(func: FuncKey) -> bool:
    return func[0].endswith("streamlit/elements/arrow.py")


# Each phase is counted at its outermost frame, so a phase's nested calls are not
# counted twice; none of these phases calls another.
PHASES: tuple[tuple[str, Callable[[FuncKey], bool]], ...] = (
    ("build networks (mlp.network.build_model)", is_build),
    ("forward passes, counts (rest of mlp/)", is_mlp),
    ("build figures (components/*figures.py)", is_figure_builder),
    (
        "serialise charts (st.plotly_chart: to_dict, to_json, ids)",
        is_chart_serialisation,
    ),
    ("tables (st.dataframe, Arrow)", is_table),
)


@dataclass
class PhaseProfile:
    """Script time of one scenario and the profiled share of each phase."""

    name: str
    script_s: list[float] = field(default_factory=list)  # unprofiled runs
    profiled_s: float = 0.0  # all profiled runs together
    profiled_runs: int = 0
    phase_s: dict[str, float] = field(default_factory=dict)  # profiled, all runs
    section_s: dict[str, float] = field(default_factory=dict)  # callees of app.main

    @property
    def median_script_s(self) -> float:
        return statistics.median(self.script_s)

    def share(self, phase: str) -> float:
        return (
            self.phase_s.get(phase, 0.0) / self.profiled_s if self.profiled_s else 0.0
        )

    @property
    def other_share(self) -> float:
        return max(0.0, 1.0 - sum(self.share(name) for name, _ in PHASES))


def section_times(stats: pstats.Stats) -> dict[str, float]:
    """Cumulative time of each function app.py's main() calls, as `module.function`."""
    app = str(APP)
    sections: dict[str, float] = {}
    for func, (_, _, _, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        name = f"{Path(func[0]).stem}.{func[2]}"  # cache_utils.__call__ is cached_model
        for caller, edge in callers.items():
            if caller[0] == app and caller[2] == "main":
                sections[name] = sections.get(name, 0.0) + edge[3]
    return sections


def outermost_time(stats: pstats.Stats, matches: Callable[[FuncKey], bool]) -> float:
    """Cumulative time in matching functions entered from non-matching callers."""
    total = 0.0
    for func, (_, _, _, _, callers) in stats.stats.items():  # type: ignore[attr-defined]
        if not matches(func):
            continue
        for caller, edge in callers.items():
            if not matches(caller):
                total += edge[3]  # cumulative time spent through this call edge
    return total


class ScriptTimer:
    """Times, and optionally profiles, each run of the page script by AppTest."""

    def __init__(self) -> None:
        self.profiler: cProfile.Profile | None = None
        self.durations: list[float] = []
        self._original = script_runner.exec_func_with_error_handling

    def _timed(self, func, ctx):  # noqa: ANN001, ANN202 - Streamlit's private signature
        started = time.perf_counter()
        if self.profiler is not None:
            self.profiler.enable()
        try:
            return self._original(func, ctx)
        finally:
            if self.profiler is not None:
                self.profiler.disable()
            self.durations.append(time.perf_counter() - started)

    @contextmanager
    def installed(self) -> Iterator[ScriptTimer]:
        script_runner.exec_func_with_error_handling = self._timed
        try:
            yield self
        finally:
            script_runner.exec_func_with_error_handling = self._original


def apply_change(app: AppTest, change: Change) -> None:
    """Set each widget in `change` by key, whatever kind of widget it is."""
    for key, value in change.items():
        for finder in (app.slider, app.number_input, app.text_input):
            try:
                widget = finder(key=key)
            except KeyError:
                continue
            widget.set_value(value)
            break
        else:
            raise KeyError(f"no slider, number_input or text_input with key {key!r}")


def run_app(app: AppTest, change: Change) -> None:
    apply_change(app, change)
    app.run()
    if app.exception:
        raise RuntimeError(f"app raised: {app.exception[0].value}")
    if app.error:
        raise RuntimeError(f"app showed st.error: {app.error[0].value}")


def profile_scenario(
    name: str,
    setup: tuple[Change, ...],
    change: Callable[[int], Change],
    runs: int,
    warmup: int = 2,
) -> PhaseProfile:
    """Time `runs` reruns unprofiled, then profile `runs` more, after `warmup` untimed ones."""
    result = PhaseProfile(name)
    timer = ScriptTimer()
    with timer.installed():
        app = AppTest.from_file(str(APP), default_timeout=120)
        app.run()
        for step in setup:
            run_app(app, step)
        for i in range(warmup):
            run_app(app, change(i))
        timer.durations.clear()
        for i in range(warmup, warmup + runs):
            run_app(app, change(i))
        result.script_s = list(timer.durations)

        timer.durations.clear()
        timer.profiler = cProfile.Profile()
        for i in range(warmup + runs, warmup + 2 * runs):
            run_app(app, change(i))
        result.profiled_s = sum(timer.durations)
        result.profiled_runs = runs
    stats = pstats.Stats(timer.profiler)
    for phase, matches in PHASES:
        result.phase_s[phase] = outermost_time(stats, matches)
    result.section_s = section_times(stats)
    logger.info(
        "%s: script %.1f ms per rerun unprofiled", name, result.median_script_s * 1000
    )
    return result
