"""What is declared once is read everywhere: scoring signals, settings, their documentation."""

from dataclasses import fields

from bot.cli import build_parser
from bot.kb.evidence import SIGNALS, computations
from bot.settings import Settings


def test_every_signal_has_a_setting_a_flag_a_computation_and_a_documented_default(root):
    settings, operators = Settings(), (root / "docs" / "operators.md").read_text()
    scoring = (root / "docs" / "faq-format.md").read_text()
    build_help = build_parser()._subparsers._group_actions[0].choices["kb"]  # type: ignore[union-attr]
    flags = build_help._subparsers._group_actions[0].choices["build"].format_help()
    assert list(computations()) == [s.name for s in SIGNALS]
    for s in SIGNALS:
        assert getattr(settings, s.key) == s.default
        assert s.flag in flags and s.setting in flags
        assert f"| `{s.setting}` | {s.default:g} |" in operators
        assert f"| `{s.setting}` (`{s.flag}`) | {s.default:g}" in scoring


def test_every_setting_is_documented_for_operators(root):
    operators = (root / "docs" / "operators.md").read_text()
    missing = [f.name for f in fields(Settings) if f"SUPPORTBOT_{f.name.upper()}" not in operators]
    assert missing == []


def test_the_widget_reads_the_payloads_the_server_pushes(root):
    from bot import wire

    widget = (root / "bot" / "web" / "static" / "widget.js").read_text()
    status = wire.handoff_status("h1", "queued", 2, True)["handoff"]
    read = {f"custom.handoff.{k}" for k in ("position", "live") if k in status}
    read |= {f"custom.{k}" for k in wire.agent_message("c", "hi", "ana")["custom"]}
    change = wire.state_change("c", "hi", "assigned", "ana")["custom"]
    read |= {"custom.state"} & {f"custom.{k}" for k in change}
    assert read == {"custom.handoff.position", "custom.handoff.live", "custom.from", "custom.agent",
                    "custom.state"}
    assert all(key in widget for key in read)
