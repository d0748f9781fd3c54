"""The launcher `make run` starts (ui/serve.py): Streamlit's app and the phones' routes from one server, with no torch on
the launcher's import path (the first paint does not wait for it)."""

import json
import subprocess
import sys
import urllib.error
import urllib.request

from tests.conftest import ROOT
from tests.servers import AppServer


def test_the_launcher_imports_no_torch():
    probe = "import sys, ui.serve, ui.phone; print(json.dumps(['torch' in sys.modules, len(ui.serve.app._user_routes), len(ui.phone.routes())]))"
    out = subprocess.run([sys.executable, "-c", f"import json; {probe}"], cwd=ROOT, capture_output=True, text=True, check=True)
    torch_loaded, mounted, phone_routes = json.loads(out.stdout.strip().splitlines()[-1])
    assert not torch_loaded and mounted == phone_routes  # every phone route, mounted


def fetch(url: str, data: bytes | None = None) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def test_make_run_serves_the_app_and_the_phones_page():
    server = AppServer()
    try:
        assert fetch(server.url + "/_stcore/health")[2] == b"ok"
        status, _headers, body = fetch(server.url + "/")
        assert status == 200 and b'<div id="root">' in body  # Streamlit's own page
        status, headers, body = fetch(server.url + "/room?lang=zh_Hans")
        assert status == 200 and headers["referrer-policy"] == "no-referrer" and "教室".encode() in body
        assert "nonce-" in headers["content-security-policy"]
        status, headers, body = fetch(server.url + "/room/api/find", b"A" * 10_000)  # refused before the board is asked
        assert status == 413 and headers["referrer-policy"] == "no-referrer" and set(json.loads(body)) == {"error"}
    finally:
        server.close()
