import pytest


@pytest.fixture
def real_kb_cli(tmp_path, real_encoder, monkeypatch):
    """``supportbot kb`` commands (``bot.cli.main``) with the real model and no out-of-scope file."""
    monkeypatch.setattr("bot.cli.kb.encoder", lambda settings: real_encoder)
    monkeypatch.setenv("SUPPORTBOT_OUT_OF_SCOPE", str(tmp_path / "none.yml"))
    return real_encoder
