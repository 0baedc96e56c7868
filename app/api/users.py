"""``/api/v1/users``: administrators manage people (passwords are set on the server: ``newremora user
set-password``)."""

from __future__ import annotations

from quart import Blueprint
from quart_schema import validate_request, validate_response

from app import users
from app.api.context import runtime
from app.groups import names_of_scope, scope_of_names
from app.models import User
from app.principals import as_role
from app.schemas.common import Envelope
from app.schemas.users import ScopeIn, ScopeOut, UserCreate, UserList, UserOut, UserUpdate
from app.scopes import Scope, ScopeNames, scope_from_json

blueprint = Blueprint("users", __name__)


def scope_out(scope: Scope | None) -> ScopeOut | None:
    """In a database thread: a scope by the names of its groups and servers now."""
    return _shown(names_of_scope(scope))


def _shown(names: ScopeNames | None) -> ScopeOut | None:
    if names is None:
        return None
    return ScopeOut(groups=list(names.groups), servers=list(names.servers), within=_shown(names.within))


def scope_in(given: ScopeIn | None) -> Scope | None:
    """In a database thread: a requested scope as ids; 400 naming the groups and servers that do not exist."""
    return None if given is None else scope_of_names(ScopeNames(tuple(given.groups), tuple(given.servers)))


def user_out(user: User) -> UserOut:
    """In a database thread (the scope's names are read)."""
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        role=as_role(user.role),
        disabled=user.disabled_at is not None,
        has_password=bool(user.password_hash),
        created_at=user.created_at,
        scope=scope_out(scope_from_json(user.scope)),
    )


@blueprint.get("")
@validate_response(Envelope[UserList])
async def list_users() -> Envelope[UserList]:
    """Every user.

    Disabled ones too; administrators only."""
    found = await runtime().database.run(lambda: [user_out(user) for user in users.list_users()])
    return Envelope(data=UserList(users=found))


@blueprint.post("")
@validate_request(UserCreate)
@validate_response(Envelope[UserOut], 201)
async def create_user(data: UserCreate) -> tuple[Envelope[UserOut], int]:
    """Create a user.

    Without a password: it is set on the server (``newremora user set-password``), never through the API. 409 if
    the username is taken. The first user ends single-user mode: from then on every request needs a key.
    ``scope`` limits the user to groups and servers (400 naming any that does not exist)."""

    def create() -> UserOut:
        scope = scope_in(data.scope)
        return user_out(users.create_user(data.username, data.role, None, data.display_name, data.email, scope))

    return Envelope(data=await runtime().database.run(create)), 201


@blueprint.get("/<user_id>")
@validate_response(Envelope[UserOut])
async def get_user(user_id: str) -> Envelope[UserOut]:
    """One user.

    By id or username."""
    return Envelope(data=await runtime().database.run(lambda: user_out(users.find_user(user_id))))


@blueprint.patch("/<user_id>")
@validate_request(UserUpdate)
@validate_response(Envelope[UserOut])
async def update_user(user_id: str, data: UserUpdate) -> Envelope[UserOut]:
    """Change a user.

    Display name, email, role, disabled. A new role or a disabled flag counts for the user's keys at once (within
    a second on other API nodes), and so does a new ``scope`` (``null``: unlimited). 409 when it would leave no
    enabled administrator without a scope."""

    def update() -> UserOut:
        changes = users.UserChanges(
            display_name=data.display_name,
            email=data.email,
            email_set="email" in data.model_fields_set,
            role=data.role,
            disabled=data.disabled,
            scope=scope_in(data.scope),
            scope_set="scope" in data.model_fields_set,
        )
        return user_out(users.update_user(user_id, changes))

    return Envelope(data=await runtime().database.run(update))
