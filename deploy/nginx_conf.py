"""nginx's configuration for a workshop (deploy/nginx.conf.template), in one of two modes:

- plain: HTTP on loopback, for a demo on one machine (what deploy/local-cluster.sh starts by default);
- TLS: HTTPS with the host's certificate and key (CVAE_TLS_CERT, CVAE_TLS_KEY); the app then also works inside another
  site's page (slides framing it): see EMBEDDED.

    python -m deploy.nginx_conf RUN_DIR PORT REPLICA_URL... > nginx.conf

Settings from the environment: CVAE_LISTEN (the address nginx listens on; default 127.0.0.1 -- a workshop's host sets
the venue-facing address), CVAE_TLS_CERT and CVAE_TLS_KEY, CVAE_NGINX_CONNECTIONS (connections at once per address,
default 512), CVAE_NGINX_RATE (requests a second per address, default 100, bursts of four times that) and
CVAE_FRAME_ANCESTORS (the pages that may frame the app, a CSP `frame-ancestors` source list such as
"'self' https://slides.example.org", or "'none'"; unset: any page, slides opened from a file included)."""

import getpass
import os
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")

# Inside another site's page (a deck of slides framing the app), every cookie the app sets is a third-party cookie, and
# a visitor's requests must carry two: nginx's route cookie (the replica that holds their session) and Streamlit's XSRF
# cookie (checked on every upload). SameSite=Lax keeps both out of a frame on another site; SameSite=None lets them in,
# and browsers take it only with Secure, so only over HTTPS. `Partitioned` (CHIPS) keeps each cookie apart for every site
# that frames the app, so that browsers which block third-party cookies (Chromium here as it comes, Incognito windows)
# still keep and send them. Plain HTTP keeps SameSite=Lax: None without Secure is refused.
ROUTE_COOKIE = {False: "SameSite=Lax", True: "SameSite=None; Secure; Partitioned"}
EMBEDDED = [  # Streamlit's own cookie, rewritten on its way out (nginx >= 1.19.3); the Path attribute carries Partitioned
    "proxy_cookie_flags _streamlit_xsrf secure samesite=none;",
    'proxy_cookie_path / "/; Partitioned";',
]

# A CSP source list: schemes, hosts with wildcards and ports, paths, and quoted keywords ('self', 'none'). Nothing that
# would end nginx's quoted string or directive, or name an nginx variable.
FRAME_ANCESTORS = re.compile(r"[A-Za-z0-9*'][A-Za-z0-9*':/._-]*( [A-Za-z0-9*'][A-Za-z0-9*':/._-]*)*")


def render(run: str, port: int, replicas: list[str], env: dict | None = None) -> str:
    """The configuration for these replicas (addresses host:port), with the settings in `env` (default os.environ)."""
    env = os.environ if env is None else env
    cert, key = env.get("CVAE_TLS_CERT", ""), env.get("CVAE_TLS_KEY", "")
    if bool(cert) != bool(key):
        raise SystemExit("nginx_conf: TLS needs both CVAE_TLS_CERT and CVAE_TLS_KEY")
    for path in (cert, key):
        if path and not Path(path).is_file():
            raise SystemExit(f"nginx_conf: {path} is not a file")
    listen = f"{env.get('CVAE_LISTEN', '127.0.0.1')}:{port}" + (" ssl" if cert else "")
    tls = f"        ssl_certificate {cert};\n        ssl_certificate_key {key};\n        ssl_protocols TLSv1.2 TLSv1.3;" if cert else ""
    location = []  # the location's own lines: nginx drops a server's add_header wherever a location has add_header of its own
    if cert:
        location += ['add_header Strict-Transport-Security "max-age=31536000" always;', *EMBEDDED]
    ancestors = " ".join(env.get("CVAE_FRAME_ANCESTORS", "").split())
    if ancestors:  # unset, no header: any page may frame the app (`frame-ancestors *` would refuse slides from a file)
        if not FRAME_ANCESTORS.fullmatch(ancestors):
            raise SystemExit(
                f"nginx_conf: CVAE_FRAME_ANCESTORS is not a list of sources like \"'self' https://slides.example.org\": {ancestors!r}"
            )
        location.append(f'add_header Content-Security-Policy "frame-ancestors {ancestors}" always;')
    rate = int(env.get("CVAE_NGINX_RATE", "100"))
    values = {
        "@USER@": getpass.getuser(),
        "@RUN@": run,
        "@LISTEN@": listen,
        "@TLS@": tls,
        "@ROUTE_COOKIE@": ROUTE_COOKIE[bool(cert)],
        "@LOCATION@": "\n".join(f"            {line}" for line in location),
        "@CONNECTIONS@": str(int(env.get("CVAE_NGINX_CONNECTIONS", "512"))),
        "@RATE@": str(rate),
        "@BURST@": str(4 * rate),
        "@UPSTREAMS@": "\n".join(f"        server {address};" for address in replicas),
        "@REPLICA_NAMES@": "\n".join(f'        "{address}" "replica-{i + 1}";' for i, address in enumerate(replicas)),
    }
    text = TEMPLATE.read_text()
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


if __name__ == "__main__":
    sys.stdout.write(render(sys.argv[1], int(sys.argv[2]), [url.split("://")[-1] for url in sys.argv[3:]]))
