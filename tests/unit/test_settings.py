from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import ConfigError
from sync.settings import VARIABLES, Secret, Settings

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
