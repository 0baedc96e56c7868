# NewRemora: Ansible's ssh connection, except that an SSH password never goes to a file.
#
# ansible-core's ssh_askpass mechanism hands the password to its askpass helper through multiprocessing shared
# memory: a file in /dev/shm for as long as ssh runs. Here the host's `ansible_password` is not the password but
# a handle of the run's secret socket (app/runner/secret_socket.py), and ssh's askpass helper is
# app/runner/secret_client.py, which exchanges the handle for the password over that socket and prints it to ssh
# through a pipe. Everything else is Ansible's ssh plugin, options included.
from __future__ import annotations

import os
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.connection.ssh import DOCUMENTATION as SSH_DOCUMENTATION
from ansible.plugins.connection.ssh import Connection as SshConnection

# Ansible reads a plugin's options from its DOCUMENTATION: the ssh plugin's, under this plugin's name.
DOCUMENTATION = SSH_DOCUMENTATION.replace("name: ssh\n", "name: newremora_ssh\n", 1)


class Connection(SshConnection):
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
