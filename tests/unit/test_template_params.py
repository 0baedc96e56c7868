"""Typed template parameters (app/template_params.py): definitions checked, values converted by type from JSON or
from strings (CLI, webhooks), a bad value named, unknown names refused, secrets redacted."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from app.template_params import as_environment, convert_values, parse_parameters, redacted, secrets_of

DEFINITIONS = [
    {"name": "branch", "type": "string", "required": True, "pattern": "[a-z]+(/[a-z]+)?"},
    {"name": "workers", "type": "integer", "min": 1, "max": 8, "default": 2},
    {"name": "dry_run", "type": "boolean", "default": "false"},
    {"name": "env", "type": "choice", "choices": ["staging", "prod"], "default": "staging"},
    {"name": "token", "type": "secret"},
]


def test_values_are_converted_by_type_from_json_or_strings() -> None:
    parameters = parse_parameters(DEFINITIONS)
    assert parameters[2].default is False  # a default given as a string is stored converted
    from_json = convert_values(parameters, {"branch": "fix/io", "workers": 8, "dry_run": True, "token": "t0k"})
    from_text = convert_values(parameters, {"branch": "fix/io", "workers": " 8", "dry_run": "YES", "token": "t0k"})
    expected = {"branch": "fix/io", "workers": 8, "dry_run": True, "env": "staging", "token": "t0k"}
    assert from_json == from_text == expected
    assert redacted(parameters, expected)["token"] == "********"
    assert secrets_of(parameters, expected) == {"token": "t0k"}
    assert [as_environment(v) for v in (True, False, 8, "x")] == ["true", "false", "8", "x"]
    assert convert_values(parameters, {"branch": "main"}) == {
        "branch": "main",
        "workers": 2,
        "dry_run": False,
        "env": "staging",
    }


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "parameters.branch: is required"),
        ({"branch": "Main"}, "parameters.branch: does not match the pattern [a-z]+(/[a-z]+)?"),
        ({"branch": "a", "workers": 9}, "parameters.workers: must be at most 8"),
        ({"branch": "a", "workers": "1.5"}, "parameters.workers: must be an integer"),
        ({"branch": "a", "workers": True}, "parameters.workers: must be an integer"),
        ({"branch": "a", "dry_run": "maybe"}, "parameters.dry_run: must be true or false"),
        ({"branch": "a", "env": "dev"}, "parameters.env: must be one of staging, prod"),
        ({"branch": "a", "token": ""}, "parameters.token: must not be empty"),
        ({"branch": 5}, "parameters.branch: must be a string"),
        ({"branch": "a", "PATH": "/tmp"}, "parameters.PATH: no such parameter"),
    ],
)
def test_a_bad_value_is_refused_naming_its_parameter(values: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        convert_values(parse_parameters(DEFINITIONS), values)
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"name": "PATH"}, "parameters[0].name: must match [a-z][a-z0-9_]{0,62} (lower case: it names a variable)"),
        (
            {"name": "ld_preload2", "type": "float"},
            "parameters[0].type: must be one of string, integer, boolean, choice, secret",
        ),
        (
            {"name": "ansible_ssh_common_args"},
            "parameters[0].name: 'ansible_ssh_common_args' is reserved (Ansible's or the service's own variables)",
        ),
        ({"name": "hostvars"}, "parameters[0].name: 'hostvars' is reserved (Ansible's or the service's own variables)"),
        (
            {"name": "nr_become_handle"},
            "parameters[0].name: 'nr_become_handle' is reserved (Ansible's or the service's own variables)",
        ),
        ({"name": "t", "type": "secret", "default": "x"}, "parameters[0].default: a secret parameter has no default"),
        (
            {"name": "p", "pattern": "("},
            "parameters[0].pattern: not a regular expression (missing ), unterminated subpattern at position 0)",
        ),
        ({"name": "p", "pattern": "a" * 501}, "parameters[0].pattern: must be a string of 500 characters at most"),
        ({"name": "n", "type": "integer", "min": 3, "max": 2}, "parameters[0].min: must not be above max"),
        ({"name": "c", "type": "choice"}, "parameters[0].choices: 1 to 100 different non-empty strings"),
        ({"name": "n", "type": "integer", "default": "x"}, "parameters[0].default: must be an integer"),
    ],
)
def test_a_bad_definition_is_refused(definition: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_parameters([definition])
    assert str(refused.value) == message


def test_a_name_defined_twice_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"parameters\[1\]\.name: 'a' is defined twice"):
        parse_parameters([{"name": "a"}, {"name": "a"}])
