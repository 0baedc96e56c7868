"""Who may read /metrics: anyone, unless NEWREMORA_METRICS_TOKEN is set (then a Bearer token equal to it)."""

from __future__ import annotations

import hmac

from app.settings import Secret


def metrics_allowed(token: Secret | None, authorization: str | None) -> bool:
    if token is None:
        return True
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.reveal().encode())
