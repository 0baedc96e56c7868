"""Worker threads: claim jobs from the database, run them through the runner, record what happens.

pool.py (threads, claim loop, supervision), fill.py (how many jobs a new run waits for), slots.py (one thread's
state), runs.py and rounds.py (one Ansible run and the rounds it claims), specs.py (a claim as the runner's
spec), recorder.py (storing what a run reports), cancels.py (carrying cancels to the targets)."""
