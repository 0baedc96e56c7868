"""How many jobs a new Ansible run of a worker pool waits for (app/workers/fill.py batch_fill): a pure function of
what the pool's other threads do, and the states a thread goes through (app/workers/slots.py)."""

from __future__ import annotations

import time

from app.workers.fill import FILL_WAIT_S, SlotSnapshot, SlotState, batch_fill
from app.workers.slots import Slot

BATCH = 32


def fill(cores: int, *others: SlotSnapshot) -> int:
    return batch_fill(others, time.monotonic(), BATCH, cores, FILL_WAIT_S)


def round_of(running: int, started: float) -> SlotSnapshot:
    """A round of command jobs begun at ``started``, ``running`` of its jobs not yet ended."""
    return SlotSnapshot(SlotState.IN_ROUND, started, running)


def test_an_idle_pool_starts_a_lone_job_at_once() -> None:
    long_ago = time.monotonic() - FILL_WAIT_S - 1
    assert fill(2) == 1
    assert fill(2, round_of(1, long_ago)) == 1  # busy with long jobs
    just_now = time.monotonic()
    assert fill(2, SlotSnapshot(SlotState.ALONE, just_now, 1)) == 1  # a playbook job's run takes nothing more
    assert fill(2, SlotSnapshot(SlotState.IDLE), SlotSnapshot(SlotState.ENDING, just_now)) == 1


def test_runs_about_to_take_work_are_left_a_burst() -> None:
    now = time.monotonic()
    assert fill(2, round_of(32, now)) == 16  # a round begun just now, no room: its next round is close
    assert fill(2, round_of(32, now), round_of(32, now)) == 32  # as many as cores: a new run only for a whole batch


def test_the_room_of_runs_taking_queued_jobs_at_once_is_theirs() -> None:
    """A run waiting for work, claiming, starting Ansible, or in a round begun within FILL_WAIT_S takes up to a
    batch (32) of queued jobs without a start-up: a new run starts only for jobs beyond that room."""
    now = time.monotonic()
    starting = SlotSnapshot(SlotState.STARTING, now - 60, 1)
    assert fill(2, starting) == 16 + 31  # however long its start-up takes
    assert fill(2, round_of(2, now)) == 16 + 30  # 30 of its round's jobs have ended: its next round takes 30
    warm = SlotSnapshot(SlotState.WARM)
    assert fill(2, warm, round_of(32, now)) == 32 + 32
    assert fill(4, warm, SlotSnapshot(SlotState.CLAIMING)) == 16 + 32 + 32


def test_a_thread_moves_through_the_states_the_policy_reads() -> None:
    slot = Slot("worker-0")
    assert slot.snapshot() == SlotSnapshot(SlotState.IDLE, 0.0, 0)
    slot.claim_begins()
    assert slot.snapshot().state is SlotState.CLAIMING
    slot.claimed(["a", "b"], alone=False)
    assert (slot.snapshot().state, slot.snapshot().running) == (SlotState.STARTING, 2)
    slot.running.discard("a")  # the recorder: a job ended
    slot.first_round_joined(["c"])
    assert (slot.snapshot().state, slot.jobs, slot.snapshot().running) == (SlotState.IN_ROUND, ["a", "b", "c"], 2)
    slot.wait_warm()
    assert (slot.snapshot().state, slot.jobs, slot.snapshot().running) == (SlotState.WARM, [], 0)
    slot.begin_round(["d"])
    assert (slot.snapshot().state, slot.jobs, slot.snapshot().running) == (SlotState.IN_ROUND, ["d"], 1)
    slot.ending()
    assert slot.snapshot().state is SlotState.ENDING
    slot.idle()
    assert (slot.snapshot(), slot.jobs) == (SlotSnapshot(SlotState.IDLE, slot.round_started, 0), [])
    slot.claimed(["p"], alone=True)
    assert slot.snapshot().state is SlotState.ALONE


def test_a_run_whose_first_round_was_full_counts_as_starting_until_it_ends() -> None:
    """Its first round is never offered the jobs queued during its start-up: it stays STARTING (taking work
    soon) through its later rounds."""
    slot = Slot("worker-0")
    slot.claimed([f"j{n}" for n in range(BATCH)], alone=False)
    slot.wait_warm()
    slot.begin_round(["k"])
    slot.ending()
    assert slot.snapshot().state is SlotState.STARTING
