"""The ``newremora`` client commands: servers, run, jobs, logs and cancel against a running service."""
