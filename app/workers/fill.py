"""How many jobs a new Ansible run waits for: a pure function of what the pool's other threads are doing."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

# How long a round of command jobs counts as just begun: its run takes new work soon.
FILL_WAIT_S: Final = 2.0


class SlotState(enum.Enum):
    """What one worker thread is doing, as far as the fill policy cares."""

    IDLE = "idle"  # no run: waiting for work
    CLAIMING = "claiming"  # claiming the first jobs of a new run
    STARTING = "starting"  # its Ansible starts; its first round takes the jobs queued meanwhile
    IN_ROUND = "in_round"  # a round of command jobs is under way
    WARM = "warm"  # its round's jobs have all ended: it waits a moment for the next round's
    ALONE = "alone"  # a playbook job, in an Ansible run of its own: it takes nothing more
    ENDING = "ending"  # its run takes no more jobs and is ending


@dataclass(frozen=True)
class SlotSnapshot:
    state: SlotState
    # When its current round began (time.monotonic()), and how many of the round's jobs have not ended.
    round_started: float = 0.0
    running: int = 0


def takes_work_soon(slot: SlotSnapshot, now: float, fill_wait_s: float = FILL_WAIT_S) -> bool:
    """Whether a run would take queued jobs without Ansible's start-up: it waits for work, is claiming, is
    starting Ansible (however long that takes), or began a round of command jobs within ``fill_wait_s``."""
    if slot.state in (SlotState.WARM, SlotState.CLAIMING, SlotState.STARTING):
        return True
    return slot.state is SlotState.IN_ROUND and now - slot.round_started < fill_wait_s


def batch_fill(
    others: Sequence[SlotSnapshot], now: float, batch_size: int, cores: int, fill_wait_s: float = FILL_WAIT_S
) -> int:
    """How many jobs a new run should start with, given the pool's other threads.

    Runs that take new work soon (``takes_work_soon``) take it without Ansible's start-up, and one Ansible
    process then holds what several would: while there is one, a new run needs half a batch; while there are as
    many as cores, a whole batch (another run would only share the same CPUs, at the price of its start-up).
    Beyond that, the room those runs have (a batch less the jobs of their round still running) is theirs: a new
    run starts only for jobs they cannot take. Two runs splitting a burst that one could hold cost ~30 % more CPU
    than one (docs/benchmarks.md, throughput). With no such run: one. An idle service starts a lone job at once,
    and runs busy with long jobs hold the queue back for ``fill_wait_s`` at most."""
    taking = [slot for slot in others if takes_work_soon(slot, now, fill_wait_s)]
    if not taking:
        return 1
    theirs = sum(max(0, batch_size - slot.running) for slot in taking)
    if len(taking) >= cores:
        return batch_size + theirs
    return max(1, batch_size // 2) + theirs
