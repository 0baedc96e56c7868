"""Pure parts of playbook jobs: playbook names, extra vars checks and their file, results from a recap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.errors import InvalidInput, NotFound
from app.playbooks import check_playbook_name, find_playbook, list_playbooks
from app.runner.extravars import render_extra_vars
from app.runner.playbook_jobs import host_alias
from app.validators import check_extra_vars

DEEP = json.loads("[" * 40 + "1" + "]" * 40)


@pytest.mark.parametrize("name", ["site.yml", "deploy-web_2.yaml", "a.b.yml"])
def test_plain_playbook_names_pass(name: str) -> None:
    assert check_playbook_name(name) == name


@pytest.mark.parametrize(
    "name", ["../x.yml", "a/b.yml", "/etc/x.yml", ".x.yml", "x.yml\n", "x..yml", "x.json", "-x.yml", "x\\y.yml"]
)
def test_names_that_could_leave_the_directory_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="playbook"):
        check_playbook_name(name)


def test_symlinks_resolve_inside_the_directory_or_name_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "books"
    directory.mkdir()
    (directory / "real.yml").write_text("- hosts: all\n")
    (directory / "alias.yml").symlink_to(directory / "real.yml")
    (tmp_path / "secret.yml").write_text("- hosts: all\n")
    (directory / "out.yml").symlink_to(tmp_path / "secret.yml")
    (directory / "sub").mkdir()
    (directory / "sub" / "inner.yml").write_text("- hosts: all\n")
    (directory / "down.yml").symlink_to(directory / "sub" / "inner.yml")
    assert [p.name for p in list_playbooks(directory)] == ["alias.yml", "real.yml"]
    assert find_playbook(directory, "alias.yml").path == directory / "real.yml"
    for name in ("out.yml", "down.yml", "missing.yml"):
        with pytest.raises(NotFound):
            find_playbook(directory, name)
    with pytest.raises(NotFound, match="NEWREMORA_PLAYBOOK_DIR"):
        find_playbook(None, "real.yml")


@pytest.mark.parametrize(
    ("extra_vars", "problem"),
    [
        ({"ansible_connection": "local"}, "reserved"),
        ({"Ansible_Host": "x"}, "reserved"),
        ({"hostvars": 1}, "reserved"),
        ({"_private": 1}, "not a variable name"),
        ({"a b": 1}, "not a variable name"),
        ({"x": DEEP}, "nested"),
        ({"x": "y" * 70_000}, "bytes at most"),
        ({"x": {"y": [float("nan")]}}, "NaN and Infinity"),
        ({"x": float("inf")}, "NaN and Infinity"),
    ],
)
def test_extra_vars_that_could_steer_ansible_are_refused(extra_vars: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        check_extra_vars(extra_vars)


def test_the_extra_vars_file_is_one_unsafe_document_with_every_string_quoted() -> None:
    values = {"text": "{{ lookup('pipe', 'id') }}", "n": {"yes": ["1.10", "no", 3, 2.5, None, True, "a\nb"]}}
    rendered = render_extra_vars(values)

    class UnsafeLoader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    UnsafeLoader.add_constructor("!unsafe", lambda loader, node: ("unsafe", loader.construct_mapping(node, deep=True)))
    assert yaml.load(rendered, Loader=UnsafeLoader) == ("unsafe", values)  # noqa: S506 (a SafeLoader subclass)


@pytest.mark.parametrize(
    ("server_name", "alias"),
    [("web-01", "web-01"), ("db.example.com", "db.example.com"), ("all", "job_1"), ("localhost", "job_1")],
)
def test_the_play_sees_the_server_name_unless_ansible_reserves_it(server_name: str, alias: str) -> None:
    assert host_alias(server_name, "1") == alias
