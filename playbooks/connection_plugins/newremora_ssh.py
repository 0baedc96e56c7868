# NewRemora: Ansible's ssh connection, except that an SSH password never goes to a file.
#
# ansible-core's ssh_askpass mechanism hands the password to its askpass helper through multiprocessing shared
# memory: a file in /dev/shm for as long as ssh runs. Here the host's `ansible_password` is not the password but
# a handle of the run's secret socket (app/runner/secret_socket.py), and ssh's askpass helper is
# app/runner/secret_client.py, which exchanges the handle for the password over that socket and prints it to ssh
# through a pipe. Everything else is Ansible's ssh plugin, options included.
#
# A job's secret parameter values reach its target the same way: its start command names a handle
# ("nrsecret-HANDLE", app/runner/jobs.py), exchanged here for the values, which go to the remote command's
# stdin (start.sh reads them there): never into ssh's or the remote shell's argv, never into a file.
from __future__ import annotations

import os
import re
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.connection.ssh import DOCUMENTATION as SSH_DOCUMENTATION
from ansible.plugins.connection.ssh import Connection as SshConnection

from app.runner.secret_client import NoSecret, fetch

# Ansible reads a plugin's options from its DOCUMENTATION: the ssh plugin's, under this plugin's name.
DOCUMENTATION = SSH_DOCUMENTATION.replace("name: ssh\n", "name: newremora_ssh\n", 1)
SECRET_WORD = re.compile(r"(?<![A-Za-z0-9_-])nrsecret-([0-9a-f]{32})(?![0-9a-f])")


class Connection(SshConnection):
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = True) -> tuple[int, bytes, bytes]:
        found = SECRET_WORD.search(cmd) if in_data is None else None
        if found is not None:
            try:
                in_data = fetch(os.environ["NR_SECRET_SOCKET"], found.group(1)).encode()
            except (KeyError, NoSecret) as exc:
                raise AnsibleError(f"newremora_ssh: {exc}") from None
        return super().exec_command(cmd, in_data=in_data, sudoable=sudoable)

    def _init_shm(self) -> dict[str, Any]:
        handle = self.get_option("password") or self._play_context.password
        if not handle:
            return {}
        if self.get_option("password_mechanism") != "ssh_askpass":
            raise AnsibleError("newremora_ssh: only the ssh_askpass password mechanism is supported")
        try:
            env = {**os.environ, "SSH_ASKPASS": os.environ["NR_ASKPASS"], "NR_SECRET_HANDLE": str(handle)}
        except KeyError:
            raise AnsibleError("newremora_ssh: NR_ASKPASS is not set") from None
        env["SSH_ASKPASS_REQUIRE"] = "force"
        env.setdefault("DISPLAY", "-")
        # As Ansible's own: no controlling terminal, so ssh asks the helper and never a tty.
        return {"env": env, "start_new_session": True}
