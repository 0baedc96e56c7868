"""app/schedules.py on both databases: a tick is claimed once however many callers race for it (threads with
their own connections, as processes are), the missed-run policies after downtime, the overlap policy, a refused
launch recorded (never silent), a disabled owner stops launches, and secret values stay encrypted."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from app import cron
from app.api.context import RUNTIME_KEY
from app.models import Job, Schedule, ScheduleRun
from app.runtime import Runtime
from app.schedules import Fired, ScheduleFields, create_schedule, fire, update_schedule
from app.templates import create_template, delete_template
from app.users import create_user
from tests.helpers import create_server, password_server

# Yearly: the service's own ticker never fires it during the test; the test names the "now" of each pass.
YEARLY = "0 0 1 1 *"


async def test_claims_policies_and_refusals(app: Quart, client: Client) -> None:
    rt: Runtime = app.extensions[RUNTIME_KEY]
    server = await create_server(client, password_server("sched-01"))
    definition = {
        "kind": "command",
        "command": 'printf %s "$who"',
        "timeout": 30,
        "server_id": server["id"],
        "parameters": [{"name": "who", "type": "string", "required": True}, {"name": "token", "type": "secret"}],
    }
    template = await rt.database.run(create_template, "greet", definition, "local:local")

    def make(name: str, **extra: Any) -> Schedule:
        fields = ScheduleFields(
            name=name, template="greet", cron=YEARLY, parameters={"who": "ann", "token": "s3cret"}, **extra
        )
        return create_schedule(fields, rt.vault, "local:local", None)

    once = await rt.database.run(make, "once")
    assert "s3cret" not in once.parameters and once.secret_parameters_enc is not None
    spec = cron.parse(YEARLY, "UTC")
    due: datetime = once.next_run_at
    assert due == cron.next_after(spec, once.created_at)

    # Eight callers race for the same tick, each in a database thread of its own: one launch, one run row.
    results: list[Fired | None] = []
    barrier = threading.Barrier(8)

    def racer() -> None:
        barrier.wait()
        try:
            results.append(rt.database.call(fire, once.id, due, due, rt.vault, 3600))
        except Exception:  # a loser may also meet the UNIQUE row: it launched nothing either
            results.append(None)

    threads = [threading.Thread(target=racer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [one for one in results if one is not None]
    assert [one.outcome for one in winners] == ["launched"]
    jobs = await rt.database.run(lambda: list(Job.select().where(Job.submitted_by == f"schedule:{once.id}")))
    assert len(jobs) == 1 and json.loads(str(jobs[0].parameters)) == {"who": "ann", "token": "********"}

    # The next tick while that job is still queued: overlap "skip" records it skipped, launches nothing.
    nxt = cron.next_after(spec, due)
    skipped = await rt.database.run(fire, once.id, nxt, nxt, rt.vault, 3600)
    assert skipped is not None and skipped.outcome == "skipped_overlap"

    # Downtime across three ticks: run_once launches once for all of them; skip launches none (queue: no overlap).
    late = await rt.database.run(make, "late", missed="skip", overlap="queue")
    for schedule, expected in [(once, "launched"), (late, "skipped_missed")]:
        stored = await rt.database.run(Schedule.get_by_id, schedule.id)
        start = stored.next_run_at
        after_three = cron.next_runs(spec, start, 2)[-1] + timedelta(days=1)
        await rt.database.run(lambda s=stored: Job.update(status="completed").execute())
        fired = await rt.database.run(fire, schedule.id, start, after_three, rt.vault, 3600)
        assert fired is not None and fired.outcome == expected
        run = await rt.database.run(
            lambda s=schedule: (
                ScheduleRun.select().where(ScheduleRun.schedule_id == s.id).order_by(ScheduleRun.id.desc()).first()
            )
        )
        assert run.message is not None and "3 tick(s) missed" in run.message
        moved = await rt.database.run(Schedule.get_by_id, schedule.id)
        assert moved.next_run_at > after_three
    assert await rt.database.run(lambda: Job.select().where(Job.submitted_by == f"schedule:{late.id}").count()) == 0

    # A disabled owner: the tick is recorded failed with the reason, nothing launched.
    owner = await rt.database.run(create_user, "olga", "operator", "a-long-password-1")
    owned = await rt.database.run(
        lambda: create_schedule(
            ScheduleFields(name="owned", template="greet", cron=YEARLY, parameters={"who": "x"}),
            rt.vault,
            "user:olga",
            owner.id,
        )
    )
    await rt.database.run(lambda: type(owner).update(disabled_at=owned.created_at).execute())
    refused = await rt.database.run(fire, owned.id, owned.next_run_at, owned.next_run_at, rt.vault, 3600)
    assert refused is not None and refused.outcome == "failed"

    # The template deleted: the next tick says so (failed, with the reason), the schedule moves on.
    await rt.database.run(delete_template, template.id)
    gone = await rt.database.run(Schedule.get_by_id, late.id)
    failed = await rt.database.run(fire, late.id, gone.next_run_at, gone.next_run_at, rt.vault, 3600)
    assert failed is not None and failed.outcome == "failed"
    row = await rt.database.run(
        lambda: ScheduleRun.select().where(ScheduleRun.schedule_id == late.id).order_by(ScheduleRun.id.desc()).first()
    )
    assert "Template not found" in row.message

    # Disabled: no next run, and a pass at the old due time claims nothing.
    await rt.database.run(update_schedule, once.id, {"enabled": False}, rt.vault, "local:local")
    assert (await rt.database.run(Schedule.get_by_id, once.id)).next_run_at is None
