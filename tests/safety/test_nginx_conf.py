"""The workshop's nginx configuration (deploy/nginx_conf.py) in both modes, checked by nginx itself (`nginx -t`): plain
HTTP on loopback, and TLS with a certificate, where the route cookie and Streamlit's XSRF cookie are SameSite=None,
Secure and Partitioned (the app inside another site's slides). Uploads are not buffered to disk, the
replica is named opaquely, and the per-address limits leave loopback alone."""

import shutil
import subprocess

import pytest

from deploy.nginx_conf import render

REPLICAS = ["127.0.0.1:8701", "127.0.0.1:8702"]


def nginx_accepts(run, text: str) -> subprocess.CompletedProcess:
    nginx = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if nginx is None:
        pytest.fail("nginx is not installed (apt-get install nginx); the deployment's configuration cannot be checked")
    for part in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run / f"nginx-{part}").mkdir(exist_ok=True)
    (run / "nginx.conf").write_text(text)
    return subprocess.run([nginx, "-t", "-p", str(run), "-e", str(run / "error.log"), "-c", str(run / "nginx.conf")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_the_plain_mode_listens_on_loopback_and_nginx_accepts_it(tmp_path):
    text = render(str(tmp_path), 8600, REPLICAS, env={})
    checked = nginx_accepts(tmp_path, text)
    assert checked.returncode == 0, checked.stderr
    assert "listen 127.0.0.1:8600;" in text and "ssl_certificate" not in text
    assert 'SameSite=Lax" always' in text  # no Secure without TLS: the browser would drop the cookie
    assert "proxy_cookie_flags" not in text and "Partitioned" not in text  # Streamlit's XSRF cookie left as it is
    assert "proxy_request_buffering off;" in text
    assert "X-CVAE-Replica $cvae_replica" in text and '"127.0.0.1:8701" "replica-1";' in text
    assert "X-CVAE-Replica $upstream_addr" not in text  # no replica's address in a response header


def test_the_tls_mode_serves_https_with_a_secure_cookie_and_nginx_accepts_it(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=workshop.test",
                           "-keyout", str(key), "-out", str(cert)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert made.returncode == 0, made.stderr
    env = {"CVAE_TLS_CERT": str(cert), "CVAE_TLS_KEY": str(key), "CVAE_LISTEN": "0.0.0.0", "CVAE_NGINX_RATE": "50"}
    text = render(str(tmp_path), 8443, REPLICAS, env=env)
    checked = nginx_accepts(tmp_path, text)
    assert checked.returncode == 0, checked.stderr
    assert "listen 0.0.0.0:8443 ssl;" in text and f"ssl_certificate {cert};" in text
    # HSTS beside the location's other add_header lines: a server-level one is dropped where a location has its own
    location = text[text.index("location / {") :]
    assert 'add_header Strict-Transport-Security "max-age=31536000" always;' in location
    assert text.count("Strict-Transport-Security") == 1
    # Both cookies a visitor's requests carry come back from a frame on another site (tests/safety/test_embed.py).
    assert 'cvae_route=$cvae_route; Path=/; HttpOnly; SameSite=None; Secure; Partitioned" always' in text
    assert "proxy_cookie_flags _streamlit_xsrf secure samesite=none;" in text and 'proxy_cookie_path / "/; Partitioned";' in text
    assert "rate=50r/s" in text and "burst=200" in text


def test_tls_without_its_key_is_refused_with_a_sentence(tmp_path):
    with pytest.raises(SystemExit, match="both CVAE_TLS_CERT and CVAE_TLS_KEY"):
        render(str(tmp_path), 8443, REPLICAS, env={"CVAE_TLS_CERT": str(tmp_path / "cert.pem")})


def test_any_page_may_frame_the_app_unless_the_host_names_the_pages(tmp_path):
    """No frame-ancestors policy by default: a deck on any site, or opened from a file (which `frame-ancestors *` would
    refuse), frames the app. CVAE_FRAME_ANCESTORS names the pages that may; a value that could break out of nginx's
    quoted string, or name an nginx variable, is refused with a sentence."""
    assert "Content-Security-Policy" not in render(str(tmp_path), 8600, REPLICAS, env={})
    allowed = "'self'  https://slides.example.org https://*.example.net:8443"
    text = render(str(tmp_path), 8600, REPLICAS, env={"CVAE_FRAME_ANCESTORS": allowed})
    checked = nginx_accepts(tmp_path, text)
    assert checked.returncode == 0, checked.stderr
    location = text[text.index("location / {") :]
    assert (
        """add_header Content-Security-Policy "frame-ancestors 'self' https://slides.example.org https://*.example.net:8443" always;"""
        in location
    )
    assert "frame-ancestors 'none'" in render(str(tmp_path), 8600, REPLICAS, env={"CVAE_FRAME_ANCESTORS": "'none'"})
    for bad in ('https://a.example" always; add_header X 1', "https://a.example; script-src *", "$http_referer", "https://a.example,b"):
        with pytest.raises(SystemExit, match="CVAE_FRAME_ANCESTORS is not a list of sources"):
            render(str(tmp_path), 8600, REPLICAS, env={"CVAE_FRAME_ANCESTORS": bad})
