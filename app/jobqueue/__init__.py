"""The database as the queue: every query about jobs, in one place. Knows nothing of HTTP or Ansible."""
