"""The running bot encodes customers' messages through ONNX Runtime: neither the action server nor the
Rasa server has torch loaded (read from each process's memory map, as the kernel sees it)."""

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
    for name in ("actions", "rasa"):
        libraries = loaded_libraries(servers.procs[name].pid)
        assert not [path for path in libraries if "/torch/" in path or "libtorch" in path], name
