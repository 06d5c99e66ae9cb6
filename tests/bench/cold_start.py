"""Cold start (section 1): importing each handler module in a fresh interpreter, relative to
importing boto3 alone in the same run, and `python -X importtime`'s heaviest imports.

Each sample is a new process with the function's environment as the template gives it (the
same variables a local-stack worker gets). The process times the import statement itself, so
the interpreter's own start-up (equal for both) is left out; the whole process's wall time is
kept beside it. Runs alternate between modules, so a noisy neighbour hits them all alike.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from tests.bench import environment as env

FLOOR = "boto3"
MEASURED = ("IngestFunction", "QueryFunction", "ProjectorFunction", "NotifierFunction")
_TIMED_IMPORT = (
    "import time\n"
    "started = time.perf_counter()\n"
    "import {module}\n"
    "print(time.perf_counter() - started)\n"
)


@dataclass(frozen=True)
class ImportTimes:
    module: str
    import_s: list[float]
    process_s: list[float]

    @property
    def import_median(self) -> float:
        return statistics.median(self.import_s)

    @property
    def process_median(self) -> float:
        return statistics.median(self.process_s)


def _environment(logical_id: str | None) -> dict[str, str]:
    if logical_id is None:  # the floor: a function that imports boto3 and nothing else
        base = env.lambda_environment("ProjectorFunction")
        return {k: v for k, v in base.items() if not k.startswith(("POWERTOOLS_", "PROJECTION_"))}
    return env.lambda_environment(logical_id)


def _one_import(module: str, environment: dict[str, str]) -> tuple[float, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _TIMED_IMPORT.format(module=module)],
        env=environment,
        cwd=env.ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{result.stderr[-2000:]}")
    return float(result.stdout.strip().splitlines()[-1]), elapsed


def importtime_top(module: str, environment: dict[str, str], top: int = 10) -> list[dict[str, Any]]:
    """`python -X importtime -c "import <module>"`: the `top` imports by cumulative time."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=environment,
        cwd=env.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    rows: list[dict[str, Any]] = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        fields = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if not fields[0].isdigit():
            continue  # the header
        rows.append(
            {
                "module": fields[2].strip(),
                "self_ms": int(fields[0]) / 1000,
                "cumulative_ms": int(fields[1]) / 1000,
            }
        )
    rows.sort(key=lambda row: row["cumulative_ms"], reverse=True)
    return rows[:top]


def measure(*, runs: int) -> dict[str, Any]:
    subjects: list[tuple[str, str, dict[str, str]]] = [("floor", FLOOR, _environment(None))]
    for logical_id in MEASURED:
        subjects.append(
            (env.FUNCTIONS[logical_id], env.handler_module(logical_id), _environment(logical_id))
        )
    # One untimed import each first: compiled bytecode and the page cache are warm for all.
    for _name, module, environment in subjects:
        warm = {k: v for k, v in environment.items() if k != "PYTHONDONTWRITEBYTECODE"}
        _one_import(module, warm)
    samples: dict[str, tuple[list[float], list[float]]] = {
        name: ([], []) for name, _, _ in subjects
    }
    for _ in range(runs):
        for name, module, environment in subjects:
            imported, process = _one_import(module, environment)
            samples[name][0].append(imported)
            samples[name][1].append(process)
    times = {name: ImportTimes(module, *samples[name]) for name, module, _environment_ in subjects}
    floor = times["floor"]
    results: dict[str, Any] = {}
    details: dict[str, Any] = {
        "runs": runs,
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "floor_import_ms": round(floor.import_median * 1000, 1),
        "floor_process_ms": round(floor.process_median * 1000, 1),
        "functions": {},
        "importtime_top10": {},
    }
    for name, module, environment in subjects[1:]:
        measured = times[name]
        results[f"cold_import_ratio_{name}"] = measured.import_median / floor.import_median
        details["functions"][name] = {
            "module": module,
            "import_ms": round(measured.import_median * 1000, 1),
            "process_ms": round(measured.process_median * 1000, 1),
            "process_ratio": round(measured.process_median / floor.process_median, 3),
        }
        details["importtime_top10"][name] = importtime_top(module, environment)
    results["details"] = details
    return results
