"""The app inside another site's slides, in headless Chromium: the workshop deployment (deploy/local-cluster.sh: nginx
with TLS in front of two Streamlit replicas) framed with `?embed=true` by a page on another site, as a reveal.js or
Quarto deck embeds it (README, "Giving a talk").

The deck is http://localhost:PORT/slides.html and the app https://127.0.0.1:PORT: two sites, so every cookie the app sets
is a third-party cookie there. The frame loads the app, moves to another page as a deck does on the next slide (a new
`src`), takes an upload of a data set (Streamlit's XSRF check: its cookie must come back), and every request reaches
one replica (nginx's route cookie must come back). Twice: with third-party cookies blocked, as this Chromium comes (and
as Chrome's Incognito windows are), and allowed, as upstream Chromium's default for a regular window."""

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.browser.test_browser import assert_no_exception, main, shot, wait_ready
from tests.safety.test_deploy import deployment
from tests.servers import CHROMIUM_ARGS, chromium_executable

pytestmark = [pytest.mark.browser, pytest.mark.slow]
STARTS_CLUSTER = True  # a Ray cluster of its own: tests/conftest.py runs one such module at a time
QUIET = ("_stcore/health", "host-config")  # asked before the frame's cookies exist; answered either way (test_deploy.py)


def self_signed(folder):
    """A certificate for 127.0.0.1 and localhost, one day, and its key: (cert, key)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                           "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert made.returncode == 0, made.stderr
    return cert, key


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The deployment over HTTPS on loopback: its URL, https://127.0.0.1:PORT."""
    run_dir = tmp_path_factory.mktemp("embedded")
    cert, key = self_signed(run_dir)
    yield from deployment(run_dir, CVAE_TLS_CERT=str(cert), CVAE_TLS_KEY=str(key), CVAE_REPLICAS="2")


@pytest.fixture(scope="module")
def deck(app):
    """A deck on another site: http://localhost:PORT/slides.html, one slide framing the app."""
    page = f'<!doctype html><title>Slides</title><section><iframe src="{app}/?embed=true" width="1400" height="950" style="border:0"></iframe></section>'

    class Slides(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slides)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/slides.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# Chromium's cookie controls (the profile's `profile.cookie_controls_mode`): 1 blocks third-party cookies, 2 blocks them
# in Incognito only -- upstream Chromium's default for a regular window, which this headless Chromium does not apply: a
# fresh profile of it blocks them (DevTools names the reason "UserPreferences").
BROWSERS = {"third-party cookies blocked": None, "third-party cookies allowed": 2}


@pytest.fixture(params=list(BROWSERS))
def visitor(request, browser, tmp_path):
    """A browser context of the kind named: the module's Chromium as it comes, or one with a profile that allows
    third-party cookies. The certificate is self-signed: errors ignored, as a visitor's trusted one would pass."""
    mode = BROWSERS[request.param]
    options = {"viewport": {"width": 1500, "height": 1050}, "ignore_https_errors": True}
    if mode is None:
        context = browser.new_context(**options)
    else:
        (tmp_path / "profile" / "Default").mkdir(parents=True)
        (tmp_path / "profile" / "Default" / "Preferences").write_text(json.dumps({"profile": {"cookie_controls_mode": mode}}))
        context = browser.browser_type.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=chromium_executable(), args=CHROMIUM_ARGS, **options
        )
    yield context
    context.close()


def test_the_app_framed_by_another_sites_slides_keeps_its_replica_and_takes_an_upload(app, deck, visitor, tmp_path):
    from tests.shapes import shapes_zip

    answers, failures = [], []
    pg = visitor.new_page()

    def answered(response):
        if response.url.startswith(app):
            answers.append(response)
            if response.status >= 400 and not any(quiet in response.url for quiet in QUIET):
                failures.append((response.status, response.request.method, response.url))

    pg.on("response", answered)
    pg.goto(deck)
    frame = pg.locator("iframe").element_handle().content_frame()
    wait_ready(frame, "CVAE Lab")

    # The next slide frames another page (reveal.js and Quarto set the iframe's src), and an upload goes through it.
    def next_slide(address: str, title: str):
        pg.evaluate("(src) => { document.querySelector('iframe').src = src; }", f"{app}{address}")
        wait_ready(frame, title)

    next_slide("/Train?embed=true&data=own", "Train")
    data = tmp_path / "shapes.zip"
    data.write_bytes(shapes_zip(per_class=60))
    main(frame).locator("input[type=file]").first.set_input_files(str(data))
    try:
        main(frame).get_by_text("circle: 60 images").wait_for(timeout=60_000)  # the data set's preview: the upload passed
    finally:
        shot(pg, "embedded-upload")
        print("refused:", failures, "replicas:", sorted({r.headers.get("x-cvae-replica", "") for r in answers}))
    assert_no_exception(frame)
    next_slide("/?embed=true", "CVAE Lab")

    assert not failures, failures
    replicas = {r.headers.get("x-cvae-replica") for r in answers} - {None, ""}
    assert len(replicas) == 1, replicas  # every request of the frame reached one replica: the route cookie came back
    uploads = [r for r in answers if "/_stcore/upload_file/" in r.url and r.request.method == "PUT"]
    documents = [r for r in answers if r.request.resource_type == "document"]
    assert uploads and len(documents) >= 3, [r.url for r in answers]
    for response in (*uploads, documents[-1]):
        sent = response.request.all_headers().get("cookie", "")
        assert "cvae_route=" in sent and "_streamlit_xsrf=" in sent, (response.url, sent)
    assert "strict-transport-security" in documents[-1].headers
    assert "content-security-policy" not in documents[-1].headers  # CVAE_FRAME_ANCESTORS unset: any page may frame it
    cookies = {c["name"]: c for c in visitor.cookies() if c["domain"] == "127.0.0.1"}
    for name in ("cvae_route", "_streamlit_xsrf"):
        assert cookies[name]["sameSite"] == "None" and cookies[name]["secure"], cookies[name]
        assert cookies[name].get("partitionKey") == "http://localhost", cookies[name]  # kept for this deck's site only
