"""The client's pure parts: reading events, exit codes, the command line, where the key comes from."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.client.config import ClientConfig
from app.client.errors import ClientError
from app.client.outcome import outcome_of
from app.client.parser import split_remote_command
from app.client.sse import Event, parse_events
from app.client.triggers import example_body, mapping_of
from app.trigger_mapping import values_from_body


def test_events_are_read_as_the_stream_sends_them() -> None:
    lines = [
        "retry: 2000",
        "",
        ": keep-alive",
        "event: output",
        "id: 7",
        'data: {"type": "stderr",',
        'data: "content": "x"}',
        "",
        "event: complete",
        'data: {"status": "completed"}',  # cut off before its blank line: not an event yet
    ]
    assert list(parse_events(lines)) == [Event("output", '{"type": "stderr",\n"content": "x"}', "7")]
    assert list(parse_events([*lines, ""]))[-1].json() == {"status": "completed"}


@pytest.mark.parametrize(
    ("end", "code", "says"),
    [
        ({"status": "completed", "exit_code": 0}, 0, None),
        ({"status": "failed", "exit_code": 3, "failure_reason": "nonzero_exit"}, 3, None),
        (
            {"status": "failed", "exit_code": 124, "failure_reason": "timeout", "error": "timed out after 5 s"},
            124,
            "j1 timed out after 5 s",
        ),
        ({"status": "canceled", "exit_code": 143}, 143, "j1 canceled"),
        ({"status": "canceled", "exit_code": None}, 143, "j1 canceled"),
        ({"status": "failed", "failure_reason": "unreachable", "error": "no route"}, 255, "(unreachable): no route"),
        ({"status": "failed", "failure_reason": "auth_failed", "error": "denied"}, 255, "(auth_failed): denied"),
        ({"status": "failed", "failure_reason": "interrupted", "error": "lost"}, 255, "(interrupted): lost"),
    ],
)
def test_exit_codes_of_a_finished_job(end: dict[str, object], code: int, says: str | None) -> None:
    outcome = outcome_of("j1", end)
    assert outcome.code == code
    assert outcome.message is None if says is None else says in (outcome.message or "")


def test_the_remote_command_is_everything_after_the_first_double_dash() -> None:
    assert split_remote_command(["run", "web", "--timeout", "5", "--", "grep", "--", "-x", "f"]) == (
        ["run", "web", "--timeout", "5"],
        ["grep", "--", "-x", "f"],
    )
    assert split_remote_command(["run", "web", "uptime"]) == (["run", "web", "uptime"], None)
    assert split_remote_command(["logs", "--", "x"]) == (["logs", "--", "x"], None)


def test_the_key_comes_from_option_then_environment_then_files(tmp_path: Path) -> None:
    def key_file(name: str, text: str, mode: int = 0o600) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
        return path

    default = key_file("home/.config/newremora/token", "nr_default\n")
    from_var = key_file("var-token", "nr_var")
    given = key_file("given", "nr_given")
    home = {"HOME": str(tmp_path / "home")}

    def token(option: str | None, environ: dict[str, str]) -> str | None:
        config = ClientConfig.load(None, option, {**home, **environ})
        return config.token.reveal() if config.token else None

    assert token(None, {}) == "nr_default"
    assert token(None, {"NEWREMORA_TOKEN_FILE": str(from_var)}) == "nr_var"
    assert token(None, {"NEWREMORA_TOKEN": "nr_env", "NEWREMORA_TOKEN_FILE": str(from_var)}) == "nr_env"
    assert token(str(given), {"NEWREMORA_TOKEN": "nr_env"}) == "nr_given"
    default.unlink()
    assert token(None, {}) is None
    assert "nr_" not in repr(ClientConfig.load(None, str(given), home))

    loose = key_file("loose", "nr_loose", 0o640)
    with pytest.raises(ClientError, match="readable by other users; chmod 600"):
        ClientConfig.load(None, str(loose), home)
    with pytest.raises(ClientError, match="No such file"):
        ClientConfig.load(None, str(tmp_path / "absent"), home)


def test_the_service_url_is_checked_and_defaults_to_loopback(tmp_path: Path) -> None:
    home = {"HOME": str(tmp_path)}
    assert ClientConfig.load(None, None, home).url == "http://127.0.0.1:8080"
    from_env = ClientConfig.load(None, None, {**home, "NEWREMORA_URL": "https://nr.example.test/"})
    assert from_env.url == "https://nr.example.test"
    assert (
        ClientConfig.load("http://[::1]:9000", None, {**home, "NEWREMORA_URL": "http://x"}).url == "http://[::1]:9000"
    )
    for bad in ("localhost:8080", "ftp://host", "http://host/?x=1"):
        with pytest.raises(ClientError, match="service URL"):
            ClientConfig.load(bad, None, home)


def test_a_triggers_example_body_gives_each_parameter_through_its_mapping() -> None:
    parameters: list[dict[str, object]] = [
        {"name": "version", "type": "string", "required": True, "default": None},
        {"name": "first", "type": "string", "required": False, "default": "abc"},
        {"name": "workers", "type": "integer", "required": True, "default": None, "min": 2},
        {"name": "loud", "type": "boolean", "required": False, "default": None},
        {"name": "tier", "type": "choice", "required": True, "default": None, "choices": ["gold", "tin"]},
        {"name": "token", "type": "secret", "required": False, "default": None},
    ]
    mapping = {"version": "release.tag_name", "first": "commits.1.id", "loud": "release.tag_name.x"}
    body = example_body(parameters, mapping)
    # Mapped ones at their path (a number steps into a list), required unmapped ones at the top, optional unmapped
    # ones left to their defaults; a path through a value placed before cannot be built and is left out.
    assert body == {"release": {"tag_name": "value"}, "commits": [None, {"id": "abc"}], "workers": 2, "tier": "gold"}
    names = [str(p["name"]) for p in parameters]
    assert values_from_body(body, names, mapping) == {"version": "value", "first": "abc", "workers": 2, "tier": "gold"}
    with pytest.raises(ClientError, match=r"give parameter=body\.path"):
        mapping_of(["version"])
    with pytest.raises(ClientError, match="given twice"):
        mapping_of(["a=x", "a=y"])
