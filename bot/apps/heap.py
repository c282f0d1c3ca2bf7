"""The servers' start-up objects left out of Python's cyclic garbage collector.

The Rasa server holds a few million long-lived objects once its model is loaded (TensorFlow,
spaCy, sklearn, the domain), the action server fewer (ONNX Runtime, FAISS, the index). Each
full collection walked them all while the event loop, and so every customer, waited: 7 % of the
Rasa server's time under 32 customers (py-spy --native: ``gc_collect_main``). ``gc.freeze``
moves what exists once the server is ready into the permanent generation (CPython's own advice for
servers: https://docs.python.org/3/library/gc.html#gc.freeze); what turns create is collected as
before, cycles included.
"""

from __future__ import annotations

import gc
from typing import Any


def freeze_startup_objects() -> int:
    """Collect once, then keep every surviving object out of later collections; how many."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def freeze_when_serving(app: Any) -> None:
    """On a Sanic app: freeze once the server is up (after Rasa's own start-up listeners load the model)."""

    async def freeze(app: Any, loop: Any) -> None:
        freeze_startup_objects()

    app.register_listener(freeze, "after_server_start")
