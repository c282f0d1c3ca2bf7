"""The index-scale benchmark runs the serving search path end to end (a small size, real model)."""

import json
import subprocess
import sys


def test_scale_benchmark_builds_and_searches_a_small_index(root, tmp_path):
    out = tmp_path / "scale.json"
    subprocess.run([sys.executable, str(root / "bench" / "scale.py"), "--sizes", "200",
                    "--json-out", str(out)], check=True, capture_output=True, cwd=root)
    [result] = json.loads(out.read_text())
    assert result["phrasings"] == 200 and result["index_type"] == "IndexFlatIP"
    assert 0 < result["search_p50_ms"] <= result["search_p95_ms"]
    assert result["build_s"] > 0 and result["resident_mb"] >= 0
