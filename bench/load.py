"""HTTP load from wrk (C, one thread, epoll): the load generator must not be what saturates two cores.

wrk's own CPU-seconds are reported with each result, so a reader can check it stayed small.
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# wrk calls done() once at the end; it prints one JSON line with the percentiles wrk does not print itself.
REPORT_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "max_us": %d, '
    .. '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50: float
    p95: float
    max: float
    errors: dict[str, int]  # socket errors (connect, read, write), timeouts, non-2xx/3xx answers (status)
    client_cpu: float  # CPU-seconds wrk used

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def merged(self, other: LoadResult) -> LoadResult:
        """Two runs of the same route as one (percentiles: the request-weighted mean, close enough here)."""
        total = self.requests + other.requests
        weight = self.requests / total if total else 0.5
        return LoadResult(
            requests=total,
            seconds=self.seconds + other.seconds,
            p50=self.p50 * weight + other.p50 * (1 - weight),
            p95=self.p95 * weight + other.p95 * (1 - weight),
            max=max(self.max, other.max),
            errors={k: self.errors.get(k, 0) + other.errors.get(k, 0) for k in {*self.errors, *other.errors}},
            client_cpu=self.client_cpu + other.client_cpu,
        )


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk not found: `make bench` installs it (Debian package wrk), or apt-get install wrk")
    return found


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(url: str, connections: int, seconds: float) -> LoadResult:
    """``connections`` clients, each sending its next request when the previous answer arrived."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(REPORT_SCRIPT)
        script.flush()
        cpu_before = _children_cpu()
        result = subprocess.run(
            [
                require_wrk(),
                "--threads=1",
                f"--connections={connections}",
                f"--duration={max(1, round(seconds))}s",
                "--timeout=30s",
                f"--script={Path(script.name)}",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=True,
        )
        client_cpu = _children_cpu() - cpu_before
    line = next((x for x in result.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result:\n{result.stdout}{result.stderr}")
    figures = json.loads(line.removeprefix("RESULT "))
    return LoadResult(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50=figures["p50_us"] / 1e6,
        p95=figures["p95_us"] / 1e6,
        max=figures["max_us"] / 1e6,
        errors={k: figures[k] for k in ("connect", "read", "write", "status", "timeout") if figures[k]},
        client_cpu=client_cpu,
    )
