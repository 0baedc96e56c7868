"""How to reach a server and what a job's output must never show (app/reach.py): one walk over the secrets of
a server, its credential and a job, each decrypted once."""

from __future__ import annotations

from cryptography.fernet import Fernet

from app.models import Credential, Job, Server
from app.reach import reach, target_for
from app.vault import Vault

KEY = "\n".join(
    [
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE",
        "short",
        "-----END OPENSSH PRIVATE KEY-----",
    ]
)


class CountingVault(Vault):
    def __init__(self) -> None:
        super().__init__([Fernet.generate_key()])
        self.decrypted: list[str] = []

    def decrypt(self, token: str) -> str:
        self.decrypted.append(token)
        return super().decrypt(token)


def stored(vault: Vault, *, auth: str = "password", own: bool = True) -> tuple[Server, Job]:
    credential = Credential(
        id="c",
        name="shared",
        password_enc=vault.encrypt("credential-password"),
        private_key_enc=vault.encrypt(KEY),
        passphrase_enc=vault.encrypt("credential-passphrase"),
        become_password_enc=vault.encrypt("credential-sudo"),
    )
    server = Server(
        id="s",
        name="web",
        hostname="h",
        port=22,
        user="u",
        auth_type=auth,
        password_enc=vault.encrypt("server-password") if own else None,
        become=True,
        become_password_enc=vault.encrypt("server-sudo") if own else None,
    )
    server.credential = credential
    job = Job(id="j", become=None, become_password_enc=vault.encrypt("job-sudo"))
    return server, job


def test_the_mask_list_holds_every_secret_of_the_server_its_credential_and_the_job() -> None:
    vault = CountingVault()
    server, job = stored(vault)
    reached = reach(server, vault, job)
    assert sorted(reached.masks) == sorted(
        [
            "server-password",
            "server-sudo",
            "credential-password",
            "credential-passphrase",
            "credential-sudo",
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAE",  # a key's lines of 16 characters or more
            "-----BEGIN OPENSSH PRIVATE KEY-----",
            "-----END OPENSSH PRIVATE KEY-----",
            "job-sudo",
        ]
    )
    assert len(vault.decrypted) == len(set(vault.decrypted)) == 7  # each secret decrypted once


def test_the_servers_own_secret_wins_and_the_jobs_become_password_wins_over_both() -> None:
    vault = CountingVault()
    server, job = stored(vault)
    target = reach(server, vault, job).target
    assert (target.password, target.become_user, target.become_password) == ("server-password", "root", "job-sudo")
    borrowing, _ = stored(vault, own=False)
    target = target_for(borrowing, vault)
    assert (target.password, target.become_password) == ("credential-password", "credential-sudo")


def test_a_target_alone_decrypts_only_what_it_uses() -> None:
    vault = CountingVault()
    server, _ = stored(vault)
    vault.decrypted.clear()
    target_for(server, vault)
    assert len(vault.decrypted) == 2  # the password and the become password
