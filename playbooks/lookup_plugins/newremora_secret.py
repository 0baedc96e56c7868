# NewRemora: lookup('newremora_secret', HANDLE) is the secret the run's secret socket holds for HANDLE (see
# app/runner/secret_socket.py): the inventory names the become password by its handle, and the value exists only
# in the memory of the Ansible worker that needs it. NR_SECRET_SOCKET is set for every run.
from __future__ import annotations

import os
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

from app.runner.secret_client import NoSecret, fetch


class LookupModule(LookupBase):
    def run(self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
        try:
            return [fetch(os.environ["NR_SECRET_SOCKET"], str(terms[0]))]
        except (KeyError, IndexError, NoSecret) as exc:
            raise AnsibleError(f"newremora_secret: {exc}") from None
