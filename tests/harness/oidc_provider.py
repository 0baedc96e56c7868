"""A real OpenID Connect provider on loopback: the ``oidc-provider-mock`` package's server, in its own process.

Its authorization page lets the browser (or ``authorize``) choose the subject; ``set_user`` gives a subject its
claims (``PUT /users/<sub>``), which the provider puts into the ID tokens it signs. It has no client-credentials
grant: ``id_token`` runs the authorization-code flow by HTTP and returns the signed ID token, a JWT whose audience
is the client id asked for (what a CI's workload identity token is to the API). Each start makes a new signing key:
``restart`` on the same port is a key rotation.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from tests.harness.net import free_port
from tests.harness.wait import wait_until

READY_TIMEOUT = 30.0
CALLBACK = "http://127.0.0.1/callback"  # the provider accepts any redirect URI of any client


class OidcProvider:
    def __init__(self, log_dir: Path, port: int | None = None, token_max_age: int | None = None) -> None:
        self.port = port or free_port()
        # Seconds its tokens live; negative: every token it signs has expired already (the expired-token case).
        self.token_max_age = token_max_age
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"oidc-provider-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> OidcProvider:
        with self.log_path.open("ab") as log:
            lifetime = [] if self.token_max_age is None else [f"--token-max-age={self.token_max_age}"]
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "oidc_provider_mock",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *lifetime,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"oidc-provider-mock exited:\n{self.log_path.read_text()}")
            with contextlib.suppress(httpx.TransportError):
                return httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2).status_code == 200
            return False

        wait_until(ready, READY_TIMEOUT, "the OpenID Connect provider to answer its discovery document")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        """A new process on the same port: the same issuer with a new signing key (a key rotation)."""
        self.stop()
        self.start()

    def jwks(self) -> dict[str, object]:
        answer: dict[str, object] = httpx.get(f"{self.issuer}/jwks", timeout=5).json()
        return answer

    def set_user(self, sub: str, claims: dict[str, object]) -> None:
        httpx.put(f"{self.issuer}/users/{sub}", json=claims, timeout=5).raise_for_status()

    def authorize(self, authorize_url: str, sub: str) -> str:
        """Submit the provider's authorization form for ``sub`` (as the browser's button does); the redirect back."""
        answer = httpx.post(authorize_url, data={"sub": sub}, timeout=5)
        assert answer.status_code == 302, answer.text
        return answer.headers["location"]

    def id_token(self, sub: str, client_id: str, nonce: str = "n") -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": CALLBACK,
                "scope": "openid profile email",
                "nonce": nonce,
                "state": "s",
            }
        )
        location = self.authorize(f"{self.issuer}/oauth2/authorize?{query}", sub)
        code = parse_qs(urlsplit(location).query)["code"][0]
        answer = httpx.post(
            f"{self.issuer}/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
            auth=(client_id, "any-secret"),
            timeout=5,
        )
        answer.raise_for_status()
        token: str = answer.json()["id_token"]
        return token
