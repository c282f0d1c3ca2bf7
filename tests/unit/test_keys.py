"""The secret key every token derives from: from the environment, else one kept file."""

import stat

import pytest

from bot.keys import SecretKeyError, action_server_token, derived_key, secret_key
from bot.settings import Settings, SettingsError


def test_without_a_key_one_is_created_once_readable_by_its_owner_only(tmp_path):
    settings = Settings(root=tmp_path)
    first = secret_key(settings)
    path = tmp_path / ".rasa" / "secret.key"
    assert len(first) >= 32 and path.read_bytes() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(Settings(root=tmp_path)) == first  # every process of the checkout reads the same
    assert secret_key(Settings(root=tmp_path / "other")) != first


def test_the_environment_key_wins_and_purposes_get_different_keys(tmp_path):
    settings = Settings.from_env({"SUPPORTBOT_ROOT": str(tmp_path), "SUPPORTBOT_SECRET_KEY": "k" * 40})
    assert secret_key(settings) == b"k" * 40
    assert not (tmp_path / ".rasa" / "secret.key").exists()
    assert derived_key(settings, "conversation") != derived_key(settings, "action-server")
    assert action_server_token(settings) != action_server_token(Settings(root=tmp_path, secret_key="j" * 40))


def test_a_short_key_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(SettingsError, match="at least 32 characters"):
        Settings(root=tmp_path, secret_key="short")
    (tmp_path / "k").write_text("too short")
    with pytest.raises(SecretKeyError, match="delete it"):
        secret_key(Settings(root=tmp_path, secret_key_file="k"))


def test_processes_starting_at_once_all_get_the_one_key(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from bot.keys import _read_or_create

    path = tmp_path / "k" / "secret.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: _read_or_create(path), range(32)))
    assert keys == {path.read_bytes()} and len(path.read_bytes()) >= 32
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary file left
