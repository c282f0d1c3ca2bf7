"""The committed copies of npm packages are the versions js-vendor/package-lock.json pins
(scripts/vendor-js.sh refreshes both: a lock bumped without running it fails here)."""

import json

import pytest

HEADERS = {  # the file, and how its first lines name its version
    "socket.io-client": ("bot/web/static/vendor/socket.io.min.js", "Socket.IO v{}"),
    "marked": ("bot/web/static/vendor/marked.umd.js", "marked v{}"),
    "dompurify": ("bot/web/static/vendor/purify.min.js", "DOMPurify {}"),
    "chart.js": ("bot/web/static/vendor/chart.umd.min.js", "Chart.js v{}"),
    "axe-core": ("tests/e2e/vendor/axe.min.js", "axe v{}"),
}


def locked(root) -> dict[str, str]:
    packages = json.loads((root / "js-vendor" / "package-lock.json").read_text())["packages"]
    return {name: packages[f"node_modules/{name}"]["version"] for name in HEADERS}


@pytest.mark.parametrize("name", sorted(HEADERS))
def test_each_vendored_file_is_the_locked_version_with_its_licence(root, name):
    path, header = HEADERS[name]
    file = root / path
    version = locked(root)[name]
    assert header.format(version) in file.read_text(encoding="utf-8")[:400]
    assert (file.parent / f"LICENSE.{name}").is_file()
    versions = dict(line.split() for line in (file.parent / "VERSIONS").read_text().splitlines())
    assert versions[name] == version


def test_axe_is_for_the_tests_only(root):
    lock = json.loads((root / "js-vendor" / "package-lock.json").read_text())["packages"]
    assert lock["node_modules/axe-core"].get("dev") is True
    assert not list((root / "bot").rglob("axe*.js"))
