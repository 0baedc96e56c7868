"""Browser sign-in (``/auth/*``): the credentials a person types, and who a session belongs to."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.common import Password, RequestModel, Timestamp

RoleName = Literal["viewer", "operator", "admin"]


class SigninIn(RequestModel):
    """A username and its password. Wrong username and wrong password get the same answer."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "alice", "password": "correct horse battery staple"}]}
    )

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Password


class SessionOut(BaseModel):
    """The signed-in user and the CSRF token the page sends as ``X-CSRF-Token`` on every POST, PUT, PATCH and
    DELETE it makes with the session cookie."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": "5b0f2c36-1f7e-4d3a-9a51-0d8e7f6b2c11",
                    "username": "alice",
                    "role": "operator",
                    "method": "password",
                    "csrf_token": "Yk3cV7pQe0m2tq3Y4GJ3m5bq0Vv8i3mX2s5aW3dQpZc",
                    "signed_in_at": "2026-12-05T09:00:00.000Z",
                }
            ]
        }
    )

    user_id: str
    username: str
    role: RoleName
    method: Literal["password", "oidc"]
    csrf_token: str
    signed_in_at: Timestamp


class SignedOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ended": True}]})

    ended: bool = Field(description="true: a live session was ended; false: there was none (the cookie is cleared)")
