"""A template's typed parameters: their definitions checked, and launch values converted by type.

Pure: no database, no HTTP. Values reach a job only as data (environment variables of a command or script job,
unsafe extra vars of a playbook job), never spliced into its text; the name rule keeps them from shadowing the
environment's own (PATH, HOME, LD_*: all upper case).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from app.errors import InvalidInput

ParameterType = Literal["string", "integer", "boolean", "choice", "secret"]
PARAMETER_TYPES: Final[tuple[ParameterType, ...]] = ("string", "integer", "boolean", "choice", "secret")
NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
REDACTED: Final = "********"
MAX_PARAMETERS: Final = 50
MAX_VALUE: Final = 16 * 1024  # characters of one string or secret value
MAX_PATTERN: Final = 500
MAX_CHOICES: Final = 100
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off"})
_INTEGER: Final = re.compile(r"^[+-]?[0-9]{1,18}$")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParameterType
    label: str | None = None
    description: str | None = None
    required: bool = False
    default: object = None
    pattern: str | None = None
    min: int | None = None
    max: int | None = None
    choices: tuple[str, ...] | None = None

    @property
    def secret(self) -> bool:
        return self.type == "secret"

    def convert(self, raw: object) -> object:
        """``raw`` (JSON, or a string from the CLI or a webhook) as this parameter's type; InvalidInput names it."""
        where = f"parameters.{self.name}"
        if self.type == "boolean":
            if isinstance(raw, bool):
                return raw
            if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
                return raw.strip().lower() in _TRUE
            raise InvalidInput(f"{where}: must be true or false")
        if self.type == "integer":
            if isinstance(raw, bool):
                raise InvalidInput(f"{where}: must be an integer")
            if isinstance(raw, str) and _INTEGER.match(raw.strip()):
                raw = int(raw.strip())
            if not isinstance(raw, int):
                raise InvalidInput(f"{where}: must be an integer")
            if self.min is not None and raw < self.min:
                raise InvalidInput(f"{where}: must be at least {self.min}")
            if self.max is not None and raw > self.max:
                raise InvalidInput(f"{where}: must be at most {self.max}")
            return raw
        if not isinstance(raw, str):
            raise InvalidInput(f"{where}: must be a string")
        if "\x00" in raw:
            raise InvalidInput(f"{where}: must not contain NUL")
        if len(raw) > MAX_VALUE:
            raise InvalidInput(f"{where}: {MAX_VALUE} characters at most")
        if self.type == "choice":
            assert self.choices is not None
            if raw not in self.choices:
                raise InvalidInput(f"{where}: must be one of {', '.join(self.choices)}")
        if self.pattern is not None and re.fullmatch(self.pattern, raw) is None:
            raise InvalidInput(f"{where}: does not match the pattern {self.pattern}")
        return raw

    def public(self) -> dict[str, Any]:
        """The definition as stored and shown (a secret's default, refused at definition, never exists)."""
        return {
            "name": self.name,
            "type": self.type,
            "label": self.label,
            "description": self.description,
            "required": self.required,
            "default": self.default,
            "pattern": self.pattern,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices is not None else None,
        }


def _optional_text(item: Mapping[str, Any], key: str, where: str, limit: int) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{where}.{key}: must be a string of {limit} characters at most")
    return value


def _optional_int(item: Mapping[str, Any], key: str, where: str) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{where}.{key}: must be an integer")
    return value


def _parameter(item: object, index: int) -> Parameter:
    where = f"parameters[{index}]"
    if not isinstance(item, Mapping):
        raise InvalidInput(f"{where}: must be an object")
    known = {"name", "type", "label", "description", "required", "default", "pattern", "min", "max", "choices"}
    unknown = sorted(set(item) - known)
    if unknown:
        raise InvalidInput(f"{where}.{unknown[0]}: unknown field")
    name = item.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidInput(f"{where}.name: must match [a-z][a-z0-9_]{{0,62}} (lower case: it names a variable)")
    kind = item.get("type", "string")
    if kind not in PARAMETER_TYPES:
        raise InvalidInput(f"{where}.type: must be one of {', '.join(PARAMETER_TYPES)}")
    required = item.get("required", False)
    if not isinstance(required, bool):
        raise InvalidInput(f"{where}.required: must be true or false")
    pattern = _optional_text(item, "pattern", where, MAX_PATTERN)
    if pattern is not None:
        if kind != "string":
            raise InvalidInput(f"{where}.pattern: only a string parameter has a pattern")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidInput(f"{where}.pattern: not a regular expression ({exc})") from exc
    low, high = _optional_int(item, "min", where), _optional_int(item, "max", where)
    if (low is not None or high is not None) and kind != "integer":
        raise InvalidInput(f"{where}.min: only an integer parameter has min and max")
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"{where}.min: must not be above max")
    choices = item.get("choices")
    if kind == "choice":
        if (
            not isinstance(choices, list)
            or not 1 <= len(choices) <= MAX_CHOICES
            or not all(isinstance(one, str) and 0 < len(one) <= 255 for one in choices)
            or len(set(choices)) != len(choices)
        ):
            raise InvalidInput(f"{where}.choices: 1 to {MAX_CHOICES} different non-empty strings")
        choices = tuple(choices)
    elif choices is not None:
        raise InvalidInput(f"{where}.choices: only a choice parameter has choices")
    parameter = Parameter(
        name=name,
        type=cast(ParameterType, kind),
        label=_optional_text(item, "label", where, 200),
        description=_optional_text(item, "description", where, 2000),
        required=required,
        pattern=pattern,
        min=low,
        max=high,
        choices=choices,
    )
    default = item.get("default")
    if default is None:
        return parameter
    if kind == "secret":
        # A default would be a secret stored in the definition and shown to every reader: refused.
        raise InvalidInput(f"{where}.default: a secret parameter has no default")
    try:
        converted = parameter.convert(default)
    except InvalidInput as exc:
        raise InvalidInput(f"{where}.default: {str(exc).split(': ', 1)[1]}") from exc
    return Parameter(**{**parameter.__dict__, "default": converted})


def parse_parameters(items: object) -> list[Parameter]:
    """Definitions as given (JSON) checked; InvalidInput names the first bad one."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidInput("parameters: must be a list")
    if len(items) > MAX_PARAMETERS:
        raise InvalidInput(f"parameters: {MAX_PARAMETERS} at most")
    parameters = [_parameter(item, index) for index, item in enumerate(items)]
    names = [one.name for one in parameters]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise InvalidInput(f"parameters[{index}].name: {name!r} is defined twice")
    return parameters


def convert_values(parameters: Sequence[Parameter], values: Mapping[str, object]) -> dict[str, object]:
    """The values a launch gives, converted by type, with defaults filled in; a name not defined is refused, a
    required parameter without a value too. A parameter with no value and no default is left out."""
    defined = {one.name: one for one in parameters}
    unknown = sorted(set(values) - set(defined))
    if unknown:
        raise InvalidInput(f"parameters.{unknown[0]}: no such parameter")
    converted: dict[str, object] = {}
    for parameter in parameters:
        raw = values.get(parameter.name)
        if raw is None:
            if parameter.required and parameter.default is None:
                raise InvalidInput(f"parameters.{parameter.name}: is required")
            if parameter.default is not None:
                converted[parameter.name] = parameter.default
            continue
        converted[parameter.name] = parameter.convert(raw)
    return converted


def redacted(parameters: Sequence[Parameter], values: Mapping[str, object]) -> dict[str, object]:
    """The values as a job shows them and an audit row records them: each secret as ``REDACTED``."""
    secret = {one.name for one in parameters if one.secret}
    return {name: REDACTED if name in secret else value for name, value in values.items()}


def secrets_of(parameters: Sequence[Parameter], values: Mapping[str, object]) -> dict[str, str]:
    secret = {one.name for one in parameters if one.secret}
    return {name: str(value) for name, value in values.items() if name in secret}


def as_environment(value: object) -> str:
    """A value as an environment variable holds it: booleans as true/false, integers in decimal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
