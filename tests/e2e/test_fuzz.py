"""Every endpoint fuzzed from the service's own OpenAPI document (schemathesis, its default checks): no 5xx,
no response that breaks the document.

Left out: the check "schema-valid data is accepted", which cannot hold where validity is semantic (a private
key must parse, a server id must exist) and no JSON schema says so; and the connectivity checks, which would
reach the fuzzed hostnames (tests send traffic only to loopback). No worker threads: nothing fuzzed runs."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.harness.cli import newremora
from tests.harness.service import Service

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 100


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def admin_key(workdir: Path) -> str:
    """An administrator key from the start: a fuzzed POST /users or /keys would otherwise end single-user mode
    and leave every later operation a 401."""
    made = newremora("token", "create", "--name", "fuzz", "--create", env={"NEWREMORA_DATA_DIR": str(workdir / "var")})
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def service(workdir: Path, admin_key: str, control_root: Path) -> Iterator[Service]:
    env = {
        "NEWREMORA_WORKERS": "0",
        "NEWREMORA_RATE_LIMIT": "0",
        "NEWREMORA_JOB_RATE_LIMIT": "0",
        "NEWREMORA_CONTROL_DIR": tempfile.mkdtemp(dir=control_root),
        "NEWREMORA_LOG_LEVEL": "warning",
    }
    started = Service.start(workdir, env)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def api_schema(service: Service) -> schemathesis.BaseSchema:
    loaded = schemathesis.openapi.from_url(f"{service.base_url}/openapi.json")
    # The stream ends only with its job, and connectivity checks would reach the fuzzed hostnames.
    return loaded.exclude(path_regex=r"(/stream|/test|/check-status)$")


def test_api_conforms_to_its_openapi_document(admin_key: str, api_schema: schemathesis.BaseSchema) -> None:
    headers = {"Authorization": f"Bearer {admin_key}"}
    # Driven through Hypothesis directly: schemathesis' pytest plugin does not load under pytest 9.
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def check(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        try:
            check()
        except Exception as failure:  # collect all, report together
            failures.append(f"{operation.label}: {failure}")
    assert not failures, "\n\n".join(failures)
