"""The agent console with live updates (socket.io) against the same console polling (socket blocked).

Starts the real servers in a temporary folder, opens the console in Debian's Chromium as a logged-in
agent with a claimed hand-off, and in one run, for each mode: counts the console's requests while
idle, times customer messages (REST) from sending to showing in the agent's page, and reads the Rasa
server's resident memory and the page's JS heap. Prints the figures and writes the ``console-live``
section of docs/benchmarks.md (``--no-write``: print only).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.compare import write_section  # noqa: E402
from bench.run import machine  # noqa: E402
from bot.access.conversations import token_for  # noqa: E402
from bot.apps.supervisor import Servers, ensure_index  # noqa: E402
from bot.apps.training import train_if_needed  # noqa: E402
from bot.handoff.store import HandoffStore  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.staff.accounts import StaffStore  # noqa: E402
from bot.staff.passwords import hash_password  # noqa: E402

PASSWORD = "a benchmark's password"  # noqa: S105 - a throw-away account in a temporary database


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def customer(settings: Settings, sender: str, text: str) -> None:
    r = httpx.post(f"http://{settings.host}:{settings.rasa_port}/webhooks/rest/webhook",
                   json={"sender": sender, "message": text},
                   headers={"Authorization": f"Bearer {token_for(settings, sender)}"}, timeout=30)
    r.raise_for_status()


def measure_mode(browser, servers: Servers, blocked: bool, idle: float, messages: int) -> dict:
    settings = servers.settings
    context = browser.new_context()
    if blocked:
        context.route("**/console/socket.io/**", lambda route: route.abort())
    page = context.new_page()
    page.goto(f"http://{settings.host}:{settings.rasa_port}/console/")
    page.fill("input[name=name]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    status = "#live-status:has-text('reconnecting')" if blocked else "#live-status:text-is('live')"
    page.wait_for_selector(status, timeout=15_000)
    sender = f"bench-{'poll' if blocked else 'live'}-{time.time_ns()}"
    customer(settings, sender, "where is my parcel?")
    customer(settings, sender, "talk to a human")
    hid = HandoffStore.from_url(settings.handoff_db_url).active_for(sender).id
    page.locator(f"#queue tbody tr[data-id='{hid}'] button").click(timeout=15_000)
    page.click("#claim")
    page.wait_for_selector("#conv-state:has-text('assigned')")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url) if "/console/api/" in r.url else None)
    page.wait_for_timeout(idle * 1000)
    per_minute = len(requests) * 60 / idle
    delays = []
    for n in range(messages):
        text = f"message number {n} from the customer"
        started = time.perf_counter()
        customer(settings, sender, text)
        page.wait_for_selector(f"#transcript li.customer:has-text('{text}')", timeout=10_000)
        delays.append((time.perf_counter() - started) * 1000)
    heap = page.evaluate("performance.memory ? performance.memory.usedJSHeapSize : 0") / 2**20
    result = {"requests_per_minute": per_minute, "median_ms": statistics.median(delays),
              "p90_ms": sorted(delays)[int(0.9 * (len(delays) - 1))], "max_ms": max(delays),
              "rasa_rss_mb": rss_mb(servers.procs["rasa"].pid), "page_heap_mb": heap}
    page.click("#resolve")
    context.close()
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=16005, help="the Rasa server's port (+50, +54: the others)")
    p.add_argument("--idle", type=float, default=20.0, help="seconds of an idle console to count requests")
    p.add_argument("--messages", type=int, default=15, help="customer messages timed in each mode")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="bench-console-live-"))
    try:
        shutil.copytree(ROOT / "data" / "faq", work / "faq")
        settings = Settings(root=ROOT, corpus=work / "faq", index_dir=work / "kb_index",
                            tracker_db=str(work / "tracker.db"), handoff_db=str(work / "handoff.db"),
                            rasa_port=args.port, action_port=args.port + 50, editor_port=args.port + 54,
                            tune_on_run=False)
        ensure_index(settings)
        train_if_needed(settings)
        staff = StaffStore(HandoffStore.from_url(settings.handoff_db_url).engine)
        staff.add_agent("ana", hash_password(PASSWORD))
        load_before = os.getloadavg()
        with Servers(settings, log_dir=work / "logs") as servers, sync_playwright() as pw:
            flags = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--enable-precise-memory-info"]
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
            live = measure_mode(browser, servers, False, args.idle, args.messages)
            polling = measure_mode(browser, servers, True, args.idle, args.messages)
            browser.close()
        load_after = os.getloadavg()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [("console requests a minute, idle with a chat open", "requests_per_minute", "{:.0f}"),
            ("customer message to the agent's screen, median (ms)", "median_ms", "{:.0f}"),
            ("the same, p90 (ms)", "p90_ms", "{:.0f}"),
            ("the same, max (ms)", "max_ms", "{:.0f}"),
            ("Rasa server resident memory after the mode (MB)", "rasa_rss_mb", "{:.0f}"),
            ("console page JS heap (MB)", "page_heap_mb", "{:.1f}")]
    body = [f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; load average {load_before[0]:.2f} before, "
            f"{load_after[0]:.2f} after (the machine is shared). One run, both modes against the same servers "
            f"and browser: `python bench/console_live.py` ({args.messages} REST customer messages each, "
            f"{args.idle:.0f} s idle). *Polling*: the same console with its socket.io URL blocked.", "",
            "| what | live (socket.io) | polling | polling / live |", "|---|---|---|---|"]
    for label, key, fmt in rows:
        ratio = polling[key] / live[key] if live[key] else float("nan")
        body.append(f"| {label} | {fmt.format(live[key])} | {fmt.format(polling[key])} | {ratio:.2f} |")
    body += ["", "The delay includes the REST turn itself (the customer's request returns after Rasa handled "
             "it; the relay announces the message during that turn)."]
    print("\n".join(body))
    if not args.no_write:
        write_section("console-live", "Agent console: live updates against polling (issue 19)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
