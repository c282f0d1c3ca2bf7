"""SUPPORTBOT_ACTION_HOST: the action server on another host (a container's service name), as the
Rasa server (endpoints.yml), the console's assist, the prefetch and the editor's reload reach it."""

import http.server
import threading

import pytest

from bot.apps.editor_server import action_server_notifier
from bot.keys import action_server_token
from bot.settings import Settings, SettingsError


def test_rasa_calls_the_action_server_at_action_host_and_host_stays_what_servers_listen_on(tmp_path):
    s = Settings.from_env({"SUPPORTBOT_HOST": "0.0.0.0", "SUPPORTBOT_ACTION_HOST": "actions",
                           "SUPPORTBOT_ACTION_PORT": "5055", "SUPPORTBOT_ROOT": str(tmp_path)})
    assert s.rasa_env()["ACTION_SERVER_URL"] == "http://actions:5055/webhook"
    assert s.host == "0.0.0.0"
    one_machine = Settings(root=tmp_path)
    assert one_machine.rasa_env()["ACTION_SERVER_URL"] == "http://127.0.0.1:5055/webhook"


@pytest.mark.parametrize("bad", ["http://actions", "actions:5055", "actions/webhook", "-x"])
def test_an_action_host_with_a_scheme_port_or_path_is_refused_naming_the_setting(bad):
    with pytest.raises(SettingsError, match="SUPPORTBOT_ACTION_HOST.*no scheme or port"):
        Settings.from_env({"SUPPORTBOT_ACTION_HOST": bad})


def test_the_editor_tells_the_action_server_at_action_host_to_reload(tmp_path):
    got: list[tuple[str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            got.append((self.path, self.headers.get("Authorization")))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # `host` is where this process listens (here an address nothing answers on); the action
        # server is elsewhere
        s = Settings(root=tmp_path, host="127.0.0.2", action_host="127.0.0.1",
                     action_port=server.server_address[1], secret_key="k" * 40)
        action_server_notifier(s)()
    finally:
        server.shutdown()
    assert got == [("/reload", f"Bearer {action_server_token(s)}")]
