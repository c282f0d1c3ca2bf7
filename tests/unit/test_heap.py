"""bot.apps.heap: start-up objects frozen out of the collector, later garbage still collected."""

import subprocess
import sys

CHILD = """
import asyncio, gc, weakref
from bot.apps.heap import freeze_when_serving

class App:
    def register_listener(self, listener, event):
        self.listener, self.event = listener, event

class Node:
    pass

startup = [Node() for _ in range(1000)]
app = App()
freeze_when_serving(app)
assert app.event == "after_server_start"
assert gc.get_freeze_count() == 0
asyncio.run(app.listener(app, None))
frozen = gc.get_freeze_count()
assert frozen >= 1000, frozen

def cycle():  # what a turn leaves behind: objects that only refer to each other
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)

refs = [cycle() for _ in range(100)]
gc.collect()
assert all(r() is None for r in refs), "cycles made after the freeze must still be collected"
assert gc.isenabled()
print(frozen)
"""


def test_objects_made_after_the_freeze_are_still_collected():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 1000
