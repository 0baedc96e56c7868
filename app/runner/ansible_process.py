"""Runs ansible-playbook in this interpreter, with one multiprocessing resource tracker for all its forks.

usage: python -m app.runner.ansible_process ANSIBLE_PLAYBOOK [ARGS...]

A run forks one Ansible worker per job, and each worker lives as long as its job is polled. Left alone, each
worker starts a resource tracker of its own (a Python process of ~6 MiB PSS, measured in docs/benchmarks.md);
one started here, before any fork, is inherited and shared by all of them.
"""

from __future__ import annotations

import runpy
import sys
from multiprocessing import resource_tracker


def main(argv: list[str]) -> None:
    resource_tracker.ensure_running()
    sys.argv = argv
    runpy.run_path(argv[0], run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
