"""Settings: parsed once from NEWREMORA_* variables, refused clearly when wrong, all documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import ConfigurationError
from app.settings import Secret, Settings, documented_settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_are_the_embedded_service_on_loopback() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.effective_database_url == f"sqlite:///{Path.cwd()}/var/newremora.db"
    assert settings.secret_key is None


def test_values_are_parsed_and_typed() -> None:
    settings = Settings.from_env(
        {
            "NEWREMORA_PORT": "9000",
            "NEWREMORA_DATA_DIR": "/srv/nr",
            "NEWREMORA_DATABASE_URL": "postgresql://nr@db:5432/nr",
            "NEWREMORA_LOG_LEVEL": "DEBUG",
            "UNRELATED": "x",
        }
    )
    assert settings.port == 9000
    assert settings.data_dir == Path("/srv/nr")
    assert settings.effective_database_url == "postgresql://nr@db:5432/nr"
    assert settings.log_level == "debug"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NEWREMORA_PORT", "http", "NEWREMORA_PORT: expected an integer"),
        ("NEWREMORA_PORT", "70000", "NEWREMORA_PORT: expected an integer in 0..65535"),
        ("NEWREMORA_DATABASE_URL", "mysql://x", "NEWREMORA_DATABASE_URL: expected sqlite"),
        ("NEWREMORA_LOG_LEVEL", "loud", "NEWREMORA_LOG_LEVEL: expected one of"),
        ("NEWREMORA_DB_THREADS", "0", "NEWREMORA_DB_THREADS"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({name: value})


def test_secret_key_never_shows_in_repr() -> None:
    settings = Settings.from_env({"NEWREMORA_SECRET_KEY": "very-secret-key-material"})
    assert isinstance(settings.secret_key, Secret)
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings.secret_key)
    assert settings.secret_key.reveal() == "very-secret-key-material"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    missing = [name for name in documented_settings() if f"`{name}`" not in readme]
    assert missing == []


def test_sqlite_urls_follow_the_sqlalchemy_convention(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from app.db import connect_url

    monkeypatch.chdir(tmp_path)
    relative = connect_url("sqlite:///var/rel.db", max_connections=1)
    absolute = connect_url(f"sqlite:///{tmp_path}/abs.db", max_connections=1)
    assert relative.database == "var/rel.db"
    assert absolute.database == f"{tmp_path}/abs.db"
