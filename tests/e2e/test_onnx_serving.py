"""The running bot encodes customers' messages through ONNX Runtime: neither the action server, the
Rasa server nor the FAQ editor has torch loaded (read from each process's memory map, as the kernel
sees it)."""

import time
from pathlib import Path

from tests.e2e.test_rest_conversations import conversation, say


def loaded_libraries(pid: int) -> set[str]:
    """The files mapped into a process (shared libraries, Python extension modules)."""
    return {line.split()[-1] for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
            if line.split()[-1].startswith("/")}


def test_no_serving_process_loads_torch(servers):
    assert servers.settings.encoder_backend == "onnx-int8"  # the default
    reply = say(servers, conversation(), "how long does a refund take?")
    assert reply and "refund" in " ".join(m.get("text", "") for m in reply).lower()
    actions = loaded_libraries(servers.procs["actions"].pid)
    assert any("/onnxruntime/capi/" in path for path in actions), sorted(actions)
    deadline = time.monotonic() + 120  # the editor's builder loads its encoder as it starts
    while not any("/onnxruntime/capi/" in p for p in loaded_libraries(servers.procs["editor"].pid)):
        assert time.monotonic() < deadline, "the editor never loaded ONNX Runtime"
        time.sleep(0.5)
    for name in ("actions", "rasa", "editor"):
        libraries = loaded_libraries(servers.procs[name].pid)
        assert not [path for path in libraries if "/torch/" in path or "libtorch" in path], name
