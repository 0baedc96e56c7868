"""OpenID Connect: the provider's discovery document and keys, the authorization-code flow with PKCE, and the
verification of the JWTs it signs (ID tokens at sign-in, bearer JWTs on /api/v1).

No Quart here: app/api/oidc.py (sign-in routes) and app/api/bearer.py (bearer JWTs) call in. PKCE and the random
values come from authlib; JWTs and JWKS from joserfc, the JOSE library authlib itself moved to (its own
``authlib.jose`` is deprecated). The provider is reached with httpx, asynchronously (it runs inside requests).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from app.errors import ConfigurationError, IdentityProviderUnavailable, Unauthorized
from app.oidc_claims import ClaimGrant, RoleMapEntry, grant_for
from app.settings import Settings

log = logging.getLogger(__name__)

# Asymmetric signatures only: "none" and the HMAC family (HS256...) are refused, since an HMAC "key" taken from a
# public JWKS would let anyone sign.
ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_S: Final = 60  # clock skew tolerated on exp, nbf and iat
JWKS_MIN_REFRESH_S: Final = 30.0  # an unknown kid refetches the keys at most this often (forged kids cost nothing)
JWKS_MAX_AGE_S: Final = 3600.0  # keys older than this are fetched again before use
HTTP_TIMEOUT_S: Final = 10.0
DISCOVERY_PATH: Final = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class OidcConfig:
    """The OIDC settings, checked together (each alone is checked by app/settings.py)."""

    issuer: str
    client_id: str
    client_secret: str | None
    audiences: tuple[str, ...]
    scopes: str
    username_claim: str
    role_claim: str
    role_map: tuple[RoleMapEntry, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcConfig | None:
        """None when single sign-on is off; ConfigurationError (the start stops) when it is half configured."""
        if settings.oidc_issuer is None:
            others = [name for name in ("oidc_client_id", "oidc_client_secret") if getattr(settings, name)]
            if others or settings.oidc_role_map:
                raise ConfigurationError("NEWREMORA_OIDC_ISSUER is unset while other NEWREMORA_OIDC_* settings are set")
            return None
        if not settings.oidc_client_id:
            raise ConfigurationError("NEWREMORA_OIDC_CLIENT_ID is required with NEWREMORA_OIDC_ISSUER")
        if not settings.oidc_role_map:
            raise ConfigurationError(
                "NEWREMORA_OIDC_ROLE_MAP is required with NEWREMORA_OIDC_ISSUER (every identity would be refused), "
                "e.g. ops-admins=admin;web-team=operator:groups=web"
            )
        secret = settings.oidc_client_secret.reveal() if settings.oidc_client_secret is not None else None
        return cls(
            issuer=settings.oidc_issuer,
            client_id=settings.oidc_client_id,
            client_secret=secret,
            audiences=settings.oidc_audience or (settings.oidc_client_id,),
            scopes=settings.oidc_scopes,
            username_claim=settings.oidc_username_claim,
            role_claim=settings.oidc_role_claim,
            role_map=settings.oidc_role_map,
        )

    def grant(self, claims: Mapping[str, Any]) -> ClaimGrant | None:
        return grant_for(claims, self.role_claim, self.role_map)

    def __repr__(self) -> str:  # the client secret never shows in a log or a traceback
        return f"OidcConfig(issuer={self.issuer!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class Authorization:
    """One sign-in attempt: what is sent to the provider and must come back (state) or be checked (nonce), and the
    PKCE verifier that only this service knows."""

    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> Authorization:
        return cls(state=generate_token(32), nonce=generate_token(32), verifier=generate_token(64))

    def as_dict(self) -> dict[str, str]:
        return {"state": self.state, "nonce": self.nonce, "verifier": self.verifier}

    @classmethod
    def from_dict(cls, value: Any) -> Authorization:
        if not isinstance(value, dict) or not all(
            isinstance(value.get(k), str) for k in ("state", "nonce", "verifier")
        ):
            raise ValueError("not a sign-in attempt")
        return cls(state=value["state"], nonce=value["nonce"], verifier=value["verifier"])


def _segment(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def looks_like_jwt(token: str) -> bool:
    """Three dot-separated parts: a JWT; API keys (``nr_...``) have none."""
    return token.count(".") == 2 and not token.startswith("nr_")


def unverified_header(token: str) -> dict[str, Any]:
    try:
        header = _segment(token.split(".", 1)[0])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Unauthorized("bearer token refused: not a JWT") from None
    if not isinstance(header, dict):
        raise Unauthorized("bearer token refused: not a JWT")
    return header


def token_kid(token: str) -> str | None:
    """The key id the token's header names (None: none, or not a string); the algorithm is checked here too, before
    any key is looked up."""
    header = unverified_header(token)
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise Unauthorized(f"bearer token refused: algorithm {alg!r} is not accepted")
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def verify_signature(token: str, keys: KeySet) -> dict[str, Any]:
    """The claims of a token signed by one of ``keys`` with an accepted algorithm; Unauthorized otherwise."""
    token_kid(token)
    try:
        decoded = jwt.decode(token, keys, algorithms=list(ALGORITHMS))
    except JoseError as exc:
        raise Unauthorized(f"bearer token refused: {exc.error or 'bad signature'}") from None
    except (ValueError, TypeError, binascii.Error):  # a payload that is not base64 or JSON
        raise Unauthorized("bearer token refused: not a JWT") from None
    return dict(decoded.claims)


def check_claims(
    claims: Mapping[str, Any], issuer: str, audiences: tuple[str, ...], nonce: str | None = None, now: int | None = None
) -> None:
    """iss, aud (one of ``audiences``), exp, nbf and iat (LEEWAY_S of skew), sub and, for an ID token, nonce."""
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "values": list(audiences)},
        "exp": {"essential": True},
        "sub": {"essential": True},
    }
    if nonce is not None:
        options["nonce"] = {"essential": True, "value": nonce}
    try:
        jwt.JWTClaimsRegistry(now=now, leeway=LEEWAY_S, **options).validate(dict(claims))
    except JoseError as exc:
        raise Unauthorized(f"bearer token refused: {exc.description or exc.error}") from None


class Provider:
    """One issuer: its discovery document (read once) and its keys (cached; fetched again when a token names an
    unknown ``kid``, at most every ``min_refresh_s``, and when older than ``max_age_s``)."""

    def __init__(
        self,
        config: OidcConfig,
        min_refresh_s: float = JWKS_MIN_REFRESH_S,
        max_age_s: float = JWKS_MAX_AGE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._min_refresh_s = min_refresh_s
        self._max_age_s = max_age_s
        self._clock = clock
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
                response = await client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("OpenID Connect provider: %s unreadable: %s", url, exc)
            raise IdentityProviderUnavailable() from None
        if not isinstance(document, dict):
            raise IdentityProviderUnavailable()
        return document

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            document = await self._get_json(self.config.issuer.rstrip("/") + DISCOVERY_PATH)
            # A document naming another issuer would let that issuer's tokens in (OpenID Connect Discovery 4.3).
            if document.get("issuer") != self.config.issuer:
                log.error(
                    "OpenID Connect discovery names issuer %r, not %r", document.get("issuer"), self.config.issuer
                )
                raise IdentityProviderUnavailable("the identity provider's discovery document names another issuer")
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(name), str):
                    raise IdentityProviderUnavailable(f"the identity provider's discovery document has no {name}")
            self._metadata = document
        return self._metadata

    async def _fetch_keys(self) -> KeySet:
        metadata = await self.metadata()
        document = await self._get_json(metadata["jwks_uri"])
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError):
            raise IdentityProviderUnavailable("the identity provider's keys are unreadable") from None
        self._keys = keys
        self._fetched_at = self._clock()
        return keys

    async def keys(self, kid: str | None, failed: KeySet | None = None) -> KeySet:
        """The keys to verify a token naming ``kid``: fetched again when too old, or when the token names a key not
        among them (or, ``failed``, these keys did not verify it: a kid-less token after a rotation), but never
        more often than ``min_refresh_s``, so made-up kids cannot make this service hammer the provider."""
        async with self._lock:
            age = self._clock() - self._fetched_at
            if self._keys is None or age >= self._max_age_s:
                return await self._fetch_keys()
            if failed is not None and failed is not self._keys:
                return self._keys  # another request fetched them meanwhile
            unknown = failed is not None or (kid is not None and all(key.kid != kid for key in self._keys.keys))
            if unknown and age >= self._min_refresh_s:
                log.info("OpenID Connect: key %r not among the provider's known keys, fetching them again", kid)
                return await self._fetch_keys()
            return self._keys

    async def verify(self, token: str, audiences: tuple[str, ...], nonce: str | None = None) -> dict[str, Any]:
        """The claims of a JWT this issuer signed for one of ``audiences``; Unauthorized saying why otherwise."""
        kid = token_kid(token)
        keys = await self.keys(kid)
        try:
            claims = verify_signature(token, keys)
        except Unauthorized:
            again = await self.keys(kid, failed=keys)
            if again is keys:
                raise
            claims = verify_signature(token, again)
        check_claims(claims, self.config.issuer, audiences, nonce)
        return claims

    async def authorization_url(self, attempt: Authorization, redirect_uri: str) -> str:
        metadata = await self.metadata()
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.config.scopes,
            "state": attempt.state,
            "nonce": attempt.nonce,
            "code_challenge": create_s256_code_challenge(attempt.verifier),
            "code_challenge_method": "S256",
        }
        endpoint: str = metadata["authorization_endpoint"]
        return endpoint + ("&" if "?" in endpoint else "?") + urlencode(query)

    async def exchange(self, code: str, attempt: Authorization, redirect_uri: str) -> dict[str, Any]:
        """The ID token's claims for an authorization code, checked (signature, iss, aud, exp, nonce)."""
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": attempt.verifier,
            "client_id": self.config.client_id,
        }
        auth = httpx.BasicAuth(self.config.client_id, self.config.client_secret) if self.config.client_secret else None
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
                if auth is None:
                    response = await client.post(metadata["token_endpoint"], data=form)
                else:
                    response = await client.post(metadata["token_endpoint"], data=form, auth=auth)
            answer = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("OpenID Connect provider: token endpoint unreadable: %s", exc)
            raise IdentityProviderUnavailable() from None
        if response.status_code != 200 or not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise Unauthorized(f"the identity provider refused the code ({error or response.status_code})")
        return await self.verify(answer["id_token"], (self.config.client_id,), nonce=attempt.nonce)
