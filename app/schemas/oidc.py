"""``/auth/oidc/callback``: what the OpenID Connect provider sends back to the browser."""

from __future__ import annotations

from pydantic import Field

from app.schemas.common import QueryModel


class CallbackQuery(QueryModel):
    code: str | None = Field(None, description="The authorization code.", examples=["SplxlOBeZQQYbYS6WxSbIA"])
    state: str | None = Field(
        None, description="The state this service sent with the sign-in.", examples=["af0ifjsldkj"]
    )
    error: str | None = Field(
        None, description="The provider's error instead of a code (e.g. access_denied).", examples=["access_denied"]
    )
    error_description: str | None = Field(None, description="The provider's words on the error.")
