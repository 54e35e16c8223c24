from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sync.errors import ConfigError
from sync.settings import VARIABLES, Secret, Settings, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_variable_is_documented_in_the_readme():
    text = README.read_text()
    missing = [name for name, _, _ in VARIABLES if f"`{name}`" not in text]
    assert missing == []


def test_secrets_never_show_in_repr():
    s = Settings.from_env({"DATABASE_URL": "postgresql://u:hunter2@h/db"})
    assert "hunter2" not in repr(s)
    assert "hunter2" not in str(s.database_url)
    assert s.database_url.reveal().endswith("@h/db")
    assert Secret("x") == Secret("x")


def test_malformed_number_names_the_variable():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"ARBOR_FLUSH_INTERVAL_MS": "soon"})
    assert info.value.variable == "ARBOR_FLUSH_INTERVAL_MS"


def test_defaults_match_the_documented_ones():
    s = Settings.from_env({})
    assert s.flush_interval == 0.25
    assert s.max_message_bytes == 1 << 20
    assert s.allowed_origins == ()


def test_readme_table_is_the_one_derived_from_the_settings():
    """The README's table is generated, so a hand edit there or a new variable without
    ``python -m sync.settings README.md`` shows up here."""
    text = README.read_text()
    start, end = "<!-- variables:start -->\n", "\n<!-- variables:end -->"
    table = text[text.index(start) + len(start):text.index(end)]
    assert table == markdown_table()


def test_every_field_is_read_from_one_variable_and_defaults_agree():
    """Each field is declared once with its variable; ``Settings()`` and ``from_env({})``
    are the same object, so a default cannot drift from the one the README shows."""
    names = [f.metadata["variable"].env for f in dataclasses.fields(Settings)]
    assert len(names) == len(set(names)) == len(VARIABLES)
    assert Settings() == Settings.from_env({})


def test_from_env_parses_each_kind_and_applies_overrides():
    s = Settings.from_env({
        "ARBOR_PORT": " 9000 ", "ARBOR_ALLOWED_ORIGINS": "https://a.example/, http://b ,",
        "ARBOR_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.0/8", "ARBOR_METRICS_ALLOW": "",
        "ARBOR_JOB_MAX_ATTEMPTS": "0", "ARBOR_S3_PATH_STYLE": "YES", "ARBOR_LOG_LEVEL": "debug",
        "ARBOR_PUBLIC_URL": "https://x.example/", "ARBOR_AWARENESS_TICK_MS": "5",
    }, host="0.0.0.0")
    assert s.port == 9000
    assert s.allowed_origins == ("https://a.example", "http://b")
    assert s.trusted_proxies == frozenset({"10.0.0.1", "10.0.0.0/8"})
    assert s.metrics_allow == ()
    assert s.job_max_attempts == 1
    assert s.s3_path_style is True
    assert s.log_level == "DEBUG"
    assert s.base_url == "https://x.example"
    assert s.awareness_tick == 0.005
    assert s.host == "0.0.0.0"
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"ARBOR_LOG_FORMAT": "xml"})
    assert info.value.variable == "ARBOR_LOG_FORMAT"
