"""``/api/v1/users``: administrators manage people (passwords are set on the server: ``newremora user
set-password``)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from app import users
from app.api.context import runtime
from app.models import User
from app.principals import as_role
from app.schemas.common import Envelope
from app.schemas.users import UserCreate, UserList, UserOut, UserUpdate

blueprint = Blueprint("users", __name__)


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        role=as_role(user.role),
        disabled=user.disabled_at is not None,
        has_password=bool(user.password_hash),
        created_at=user.created_at,
    )


@blueprint.get("")
@validate_response(Envelope[UserList])
async def list_users() -> Envelope[UserList]:
    """Every user.

    Disabled ones too; administrators only."""
    found = await runtime().database.run(users.list_users)
    return Envelope(data=UserList(users=[user_out(user) for user in found]))


@blueprint.post("")
@validate_request(UserCreate)
@validate_response(Envelope[UserOut], 201)
async def create_user(data: UserCreate) -> tuple[Envelope[UserOut], int]:
    """Create a user.

    Without a password: it is set on the server (``newremora user set-password``), never through the API. 409 if
    the username is taken. The first user ends single-user mode: from then on every request needs a key."""
    user = await runtime().database.run(
        users.create_user, data.username, data.role, None, data.display_name, data.email
    )
    return Envelope(data=user_out(user)), 201


@blueprint.get("/<user_id>")
@validate_response(Envelope[UserOut])
async def get_user(user_id: str) -> Envelope[UserOut]:
    """One user.

    By id or username."""
    return Envelope(data=user_out(await runtime().database.run(users.find_user, user_id)))


@blueprint.patch("/<user_id>")
@validate_request(UserUpdate)
@validate_response(Envelope[UserOut])
async def update_user(user_id: str, data: UserUpdate) -> Envelope[UserOut]:
    """Change a user.

    Display name, email, role, disabled. A new role or a disabled flag counts for the user's keys at once (within
    a second on other API nodes). 409 when it would leave no enabled administrator."""
    changes = users.UserChanges(
        display_name=data.display_name,
        email=data.email,
        email_set="email" in data.model_fields_set,
        role=data.role,
        disabled=data.disabled,
    )
    return Envelope(data=user_out(await runtime().database.run(users.update_user, user_id, changes)))
