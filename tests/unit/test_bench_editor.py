"""The editor benchmark's own arithmetic: when the action server loaded a version (read from its
log, in the format the CLI logs with), the per-kind figures and the ratio to stock Rasa."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import editor as bench  # noqa: E402


def log_line(name: str, message: str, *args: object) -> tuple[str, float]:
    """A line as `supportbot actions` logs it (bot.cli's basicConfig format) and its time."""
    record = logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    return formatter.format(record), record.created


def test_the_action_servers_load_time_is_read_from_its_log(tmp_path):
    wanted = "20261202T054209543343Z-603ea84f"
    lines = [log_line("bot.kb.serving", "FAQ index %s loaded (%d entries)", "20261202T000000000000Z-old", 89),
             log_line("bot.kb.serving", "FAQ index %s loaded (%d entries)", wanted, 89),
             log_line("bot.kb.serving", "FAQ index %s loaded (%d entries)", wanted, 89)]
    log = tmp_path / "actions.log"
    log.write_text("\n".join(["some output without a time", *(text for text, _ in lines)]) + "\n")
    found = bench.action_reloads(log, wanted)
    assert len(found) == 2  # the switch, then the calibrated thresholds
    assert abs(found[0] - lines[1][1]) < 0.002  # milliseconds in the log: within a rounding


def test_figures_per_kind_and_the_ratio_to_stock_rasa():
    rounds = [{"kind": "edit", "served_s": s, "asked_s": s - 0.05, "polls": 10, "request_s": 0.1,
               "builder_s": 0.5, "switched_s": s - 0.1, "reloaded_s": s - 0.08, "calibrated_s": 2.0,
               "index_build_s": 0.3} for s in (0.6, 0.8, 1.0)]
    rounds += [{"kind": "alternate", "served_s": 2.0, "asked_s": 1.9, "polls": 20, "request_s": 0.1,
                "builder_s": 1.5, "switched_s": 1.8, "reloaded_s": None, "calibrated_s": 3.0,
                "index_build_s": 1.0}]
    summary = bench.summary(rounds)
    assert summary["edit"]["served_s"]["p50"] == 0.8 and summary["edit"]["served_s"]["max"] == 1.0
    assert "reloaded_s" not in summary["alternate"]  # no log line: left out, not zero
    stock = {"changes": [{"kind": "edit", "train_s": 150.0, "load_s": 8.0, "served_s": 160.0,
                          "total_s": 159.0, "trained": ["DIETClassifier"], "cached": ["WhitespaceTokenizer"],
                          "train_peak_mb": 900.0}]}
    lines = bench.report({"machine": "test", "rounds": 3, "load_start": "1", "load_ours": "1", "date": "today",
                          "summary": summary, "stock": stock, "peak_mb": {"editor": 1000.0}})
    text = "\n".join(lines)
    assert "| answer edit | 800 ms | 960 ms | 1000 ms | ≤ 1 s |" in text
    assert ("| answer edit | stock Rasa | 160.0 s | 150.0 s | 8.0 s | 1 / 1 components | train 900 MB | 200× |"
            in text)
    assert "editor 1000 MB" in text


def test_a_checkout_that_predates_the_editor_is_compared_without_one(tmp_path, monkeypatch):
    import compare

    from bot.settings import Settings

    started = []
    monkeypatch.setattr(compare.Servers, "start_editor", lambda self, timeout=120: started.append(self))
    old = compare.TreeServers(Settings(root=tmp_path))
    old.start_editor()
    assert started == []
    (tmp_path / "bot" / "apps").mkdir(parents=True)
    (tmp_path / "bot" / "apps" / "editor_server.py").write_text("")
    new = compare.TreeServers(Settings(root=tmp_path))
    new.start_editor()
    assert started == [new]
