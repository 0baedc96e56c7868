"""The rounds a worker thread's run of command jobs claims once its Ansible is up (app/workers/rounds.py
SlotRounds, the RoundSource of app/runner/spec.py), against a queue held in memory."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from app.jobqueue.claim import Claimed
from app.runner.spec import JobSpec, RoundSource
from app.workers.fill import SlotState
from app.workers.rounds import SlotRounds
from app.workers.slots import Slot


def claimed(job_id: str) -> Claimed:
    return cast(Claimed, SimpleNamespace(job=SimpleNamespace(id=job_id), server=None, reattach=False))


def spec_of(item: Claimed) -> JobSpec:
    return cast(JobSpec, SimpleNamespace(job_id=item.job.id))


class Queue:
    """Batches handed out one per claim; what the run waited for and gave back is kept."""

    def __init__(self, *batches: list[str]) -> None:
        self.batches = [[claimed(job_id) for job_id in batch] for batch in batches]
        self.limits: list[int | None] = []
        self.waits: list[tuple[float, bool]] = []
        self.requeued: list[str] = []
        self.fail = False
        self.stopped = False

    def claim_commands(self, limit: int | None = None) -> list[Claimed]:
        self.limits.append(limit)
        if self.fail:
            raise RuntimeError("database down")
        return self.batches.pop(0) if self.batches else []

    def wait_for_work(self, timeout: float, warm: bool = False) -> None:
        self.waits.append((timeout, warm))

    def requeue(self, job_ids: list[str]) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.requeued.extend(job_ids)

    def stopping(self) -> bool:
        return self.stopped


def rounds_of(queue: Queue, slot: Slot, keep_warm_s: float = 0.05, unusable: frozenset[str] = frozenset()) -> Any:
    taken: list[list[str]] = []

    def take(batch: list[Claimed]) -> list[JobSpec]:
        taken.append([item.job.id for item in batch])
        return [spec_of(item) for item in batch if item.job.id not in unusable]

    source: RoundSource = SlotRounds(slot, queue, take, keep_warm_s)
    return source, taken


def starting_slot() -> Slot:
    slot = Slot("worker-0")
    slot.claimed(["first"], alone=False)
    return slot


def test_the_jobs_queued_while_ansible_started_join_the_first_round() -> None:
    queue, slot = Queue(["a", "b"]), starting_slot()
    source, taken = rounds_of(queue, slot)
    assert [spec.job_id for spec in source.join_first(3)] == ["a", "b"]
    assert (queue.limits, taken, queue.waits) == ([3], [["a", "b"]], [])  # nothing waited for
    assert (slot.state, slot.jobs, slot.running) == (SlotState.IN_ROUND, ["first", "a", "b"], {"first", "a", "b"})


def test_a_failed_claim_for_the_first_round_joins_nothing() -> None:
    queue, slot = Queue(["a"]), starting_slot()
    queue.fail = True
    source, taken = rounds_of(queue, slot)
    assert (source.join_first(3), taken, slot.state) == ([], [], SlotState.IN_ROUND)


def test_the_next_round_takes_what_is_queued_while_the_run_is_warm() -> None:
    queue, slot = Queue([], ["c", "d"]), starting_slot()
    slot.first_round_joined([])
    source, taken = rounds_of(queue, slot, keep_warm_s=60)
    assert [spec.job_id for spec in source.next_round()] == ["c", "d"]
    assert taken == [["c", "d"]]
    assert len(queue.waits) == 1 and queue.waits[0][1] is True  # it waited as a warm run, once
    assert (slot.state, slot.jobs, slot.running) == (SlotState.IN_ROUND, ["c", "d"], {"c", "d"})


def test_a_batch_none_of_which_can_run_is_not_a_round() -> None:
    queue, slot = Queue(["bad"], ["e"]), starting_slot()
    slot.first_round_joined([])
    source, taken = rounds_of(queue, slot, unusable=frozenset({"bad"}))
    assert [spec.job_id for spec in source.next_round()] == ["e"]
    assert taken == [["bad"], ["e"]]


def test_no_work_within_the_warm_wait_ends_the_run() -> None:
    queue, slot = Queue(), starting_slot()
    slot.first_round_joined([])
    source, _ = rounds_of(queue, slot, keep_warm_s=0.05)
    assert source.next_round() == []
    assert queue.waits and all(warm for _, warm in queue.waits)
    assert (slot.state, slot.jobs) == (SlotState.ENDING, [])


def test_a_stopping_pool_or_a_retired_thread_claims_no_next_round() -> None:
    for stop in ("pool", "thread"):
        queue, slot = Queue(["x"]), starting_slot()
        slot.first_round_joined([])
        queue.stopped, slot.retired = stop == "pool", stop == "thread"
        source, _ = rounds_of(queue, slot, keep_warm_s=60)
        assert (source.next_round(), queue.limits) == ([], [])


def test_jobs_given_back_are_queued_again_and_a_failure_is_not_the_runs() -> None:
    queue, slot = Queue(), starting_slot()
    source, _ = rounds_of(queue, slot)
    source.give_back(["a", "b"])
    assert queue.requeued == ["a", "b"]
    queue.fail = True
    source.give_back(["c"])  # logged: they stay running, and a later claim re-attaches to them
    assert queue.requeued == ["a", "b"]
