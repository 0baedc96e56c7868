"""Execution through Ansible: the only package that imports ansible_runner. Knows nothing of HTTP or SQL."""
