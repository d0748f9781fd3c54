"""A hall following one run (issue 39): what a follower costs the server, first as today's follower page, a Streamlit
session per phone (pages/7_Follow.py), then as the phones' light page: server-sent events and one small grid per
version (ui/phone.py), with many simulated phones. Loopback only; bounded in phones (--phones <= 1000) and time.

    python bench/hall.py --phones 50 --seconds 30 --baseline 3 --json      # about 3 minutes on 2 cores
    python bench/hall.py --phones 500 --json                                # about 5 minutes: on a quiet machine

One server (`streamlit run bench/serve_bench.py`: serve.py, the app and the phones' routes as `make run` starts them,
plus one route of the bench's own that starts the presenter's run and shares it) and its training process train one
run (cvae2, the app's defaults, the offline digits), its heartbeat kept as the presenter's open page would. In turn:
the run alone; --baseline Follow pages in headless Chromium (one client process at nice 19); alone; --phones simulated
phones in --clients processes at nice 19, each phone its own connections (asyncio, raw sockets): the run's event
stream (?run=token), parsed; its grid fetched on each new version (a keep-alive connection of its own), reconnecting
when dropped, as EventSource does; alone again. The speed is read from the run's steps at each window's ends; CPU from
/proc/<pid>/stat of the server and of its training process apart; memory as the resident set of the server's process
tree (the server, the training process and theirs), sampled every 0.5 s.

The last line of stdout is one JSON object:
    {"machine", "load_before": [1, 5, 15 min], "nofile": {"soft", "hard", "needed", "fits"}, "alone": {...},
     "baseline": {"followers", "speed_ratio", "server_cpu_s_per_follower_s", "server_cpu_s_per_1000_follower_versions",
                  "server_mb_per_follower", "bytes_per_follower_per_version", "generator_cpu_s"},
     "phones": {"n", "connected", "speed_ratio", "versions", "share_reaching_99pct_in_2s", "delay_s": {"p50", "p99",
                "max"}, "share_all_phones_current_in_2s", "staleness_s": {...}, "bytes_per_phone_per_version", "grid_bytes", "server_cpu_s_per_1000_phone_versions",
                "training_cpu_s_per_s": [alone, with phones], "server_added_mb", "server_alone_added_mb",
                "generator_cpu_s", "reconnects", "errors"}, "elapsed_s"}
- alone: the run's digits per second with no follower (each window's), the server's and the training process's CPU
  seconds per second, the server tree's memory (MB).
- speed_ratio: the run's digits per second while followed, over the mean of the windows alone before and after.
- versions: the run's versions published while every phone was connected (and at least 2 s before the window's end).
  A phone receives at most one version every 2 s, so it skips some (the run publishes a few a second): a version's
  phones are those that received its grid (the grid's ETag names its version). share_reaching_99pct_in_2s: the share of
  versions that >= 99 % of their phones held within 2 s of the version's publication (the event's "published": the
  training process's clock, the phones' on the same machine); delay_s: each grid a phone received, from its version's
  publication to the grid in the phone's hands. The stricter share_all_phones_current_in_2s: versions that >= 99 % of
  all connected phones held, or a newer one, within 2 s; staleness_s: that wait per version and phone (bounded by the
  stream's pace: one send every 2 s plus a read).
- bytes_per_phone_per_version: everything a phone received (headers, events, grids) over the versions it received;
  grid_bytes: the median grid's size.
- server_cpu_s_per_1000_phone_versions: the server process's CPU in the window, less its CPU alone over as long, per
  1,000 grids received by phones (the same for baseline's followers: per 1,000 follower-versions published while open).
- server_cpu_s_per_phone_s, server_cpu_s_per_follower_s: the server's CPU seconds a second, less its own alone, per
  phone or Follow page: the like-for-like comparison (a Follow page refreshes at its own pace, not once a version, so
  its per-version figure counts versions it never drew); server_mb_per_phone and server_mb_per_follower likewise.
- server_added_mb: the server tree's largest resident set in the window less before the phones connected;
  server_alone_added_mb: the server process alone likewise. generator_cpu_s: the client processes' own CPU.
- nofile: `ulimit -n` (raised to the hard limit here; the server inherits it) against what the phones need (two
  connections each, and the server's own descriptors).
"""

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MAX_PHONES = 1000  # refused above: a loopback bench, not a load test of the machine
MAX_BASELINE = 40  # Follow pages (each a Chromium page and a Streamlit session)
MAX_CLIENTS = 16
MAX_SECONDS = 300.0  # a window's length
READY_SECONDS = 120.0  # the phones' or pages' time to connect
STALE_SECONDS = 2.0  # a version reaches a phone in time within this
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# ---- the server, as /proc sees it -----------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of one process (its threads, not its children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree(pid: int) -> list[int]:
    """The process and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total * PAGE_SIZE / 1e6


def nofile(phones: int) -> dict:
    """Raise the soft limit on open files to the hard one (the server, started after, inherits it); whether the phones'
    connections fit: two a phone on the server's side, and its own few hundred."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    needed = 2 * phones + 512
    return {"soft": soft, "hard": hard, "needed": needed, "fits": soft >= needed}


class Hall:
    """The server (bench/serve_bench.py through tests/servers.AppServer) and its presenter's run."""

    def __init__(self):
        from tests.servers import AppServer

        self.server = AppServer("--server.address=127.0.0.1", script="bench/serve_bench.py", keep_output=False, wait=120)
        self.host, self.port = "127.0.0.1", self.server.port
        self.info = self._ask("POST")
        self.token, self.training_pid = self.info["token"], self.info["training_pid"]

    def _ask(self, method: str = "GET") -> dict:
        request = urllib.request.Request(f"{self.server.url}/bench/hall", method=method)
        with urllib.request.urlopen(request, timeout=120) as answer:
            return json.loads(answer.read())

    def status(self) -> dict:
        return self._ask()

    def sample(self) -> dict:
        """The run's digits so far, the two processes' CPU, the server tree's memory, at one moment."""
        status = self.status()
        return {"t": time.monotonic(), "digits": status["steps"] * status["batch_size"], "version": status["version"],
                "server_cpu": cpu_seconds(self.server.pid), "training_cpu": cpu_seconds(self.training_pid),
                "server_mb": rss_mb([self.server.pid]), "tree_mb": rss_mb(tree(self.server.pid))}  # fmt: skip

    def close(self) -> None:
        self.server.close()


def window(hall: Hall, seconds: float, during=None) -> dict:
    """The run over `seconds`: digits/s, CPU per second of each process, the largest memory (sampled every 0.5 s)."""
    start = hall.sample()
    peak_tree, peak_server = start["tree_mb"], start["server_mb"]
    end_at = time.monotonic() + seconds
    while time.monotonic() < end_at:
        time.sleep(min(0.5, max(0.0, end_at - time.monotonic())))
        server_tree = tree(hall.server.pid)
        peak_tree, peak_server = max(peak_tree, rss_mb(server_tree)), max(peak_server, rss_mb([hall.server.pid]))
        if during is not None:
            during()
    end = hall.sample()
    span = end["t"] - start["t"]
    return {
        "seconds": round(span, 2), "digits_per_s": round((end["digits"] - start["digits"]) / span, 1),
        "server_cpu_s_per_s": round((end["server_cpu"] - start["server_cpu"]) / span, 4),
        "training_cpu_s_per_s": round((end["training_cpu"] - start["training_cpu"]) / span, 3),
        "server_cpu_s": end["server_cpu"] - start["server_cpu"], "versions": end["version"] - start["version"],
        "first_version": start["version"], "last_version": end["version"], "wall_from": time.time() - span,
        "tree_mb": round(start["tree_mb"], 1), "peak_tree_mb": round(peak_tree, 1), "server_mb": round(start["server_mb"], 1),
        "peak_server_mb": round(peak_server, 1),
    }  # fmt: skip


def client_process(args: list[str]) -> subprocess.Popen:
    """One of this script's client modes, at nice 19, apart from the server: it prints "ready" (a line) once connected,
    waits for a line on stdin, then prints its JSON and ends."""
    command = ["nice", "-n", "19", sys.executable, str(Path(__file__).resolve()), *args]
    return subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def wait_ready(procs: list[subprocess.Popen], limit: float) -> list[str]:
    """Each client's "ready ..." line (or "" for one that said nothing within `limit`)."""
    lines, end_at = [], time.monotonic() + limit
    for proc in procs:
        line = ""
        while time.monotonic() < end_at and proc.poll() is None:
            line = proc.stdout.readline().strip()
            if line.startswith("ready"):
                break
        lines.append(line)
    return lines


def finish(procs: list[subprocess.Popen], limit: float = 60.0) -> list[dict]:
    out = []
    for proc in procs:
        try:
            proc.stdin.write("stop\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
    for proc in procs:
        try:
            text, _ = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.kill()
            text = ""
        lines = [line for line in (text or "").splitlines() if line.startswith("{")]
        out.append(json.loads(lines[-1]) if lines else {"error": f"client ended with {proc.returncode}"})
    return out


def wait_stdin_line(stop: threading.Event) -> None:
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()


# ---- today's follower: a Streamlit session per phone (pages/7_Follow.py in headless Chromium) -------------------------
def follow_client(url: str, token: str, pages: int) -> None:
    """--follow-client: `pages` Follow pages of the shared run in one headless Chromium, their bytes counted."""
    from playwright.sync_api import sync_playwright

    from tests.servers import chromium

    received = [0]
    stop = threading.Event()
    wait_stdin_line(stop)
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        opened = []
        for _ in range(pages):
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload))))
            page.on("response", lambda r: received.__setitem__(0, received[0] + int(r.headers.get("content-length") or 0)))
            page.goto(f"{url}/Follow?run={token}", wait_until="domcontentloaded")
            opened.append(page)
        shown = 0
        for page in opened:
            try:
                page.wait_for_selector("[data-testid='stImage'] img", timeout=60_000)
                shown += 1
            except Exception:  # noqa: BLE001 -- counted: a page that never showed its grid
                pass
        print(f"ready {shown}", flush=True)
        counted_from = received[0]
        while not stop.wait(0.2):
            for page in opened:
                page.wait_for_timeout(1)  # lets Playwright deliver the pages' events
        got = received[0] - counted_from
        browser.close()
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"pages": pages, "shown": shown, "bytes": got,
                      "cpu_s": round(sum(u.ru_utime + u.ru_stime for u in usage), 2)}), flush=True)  # fmt: skip


# ---- the light page: simulated phones on the event stream -------------------------------------------------------
class Phone:
    """One phone: its event stream (a connection) and its grids (a keep-alive connection of its own)."""

    def __init__(self, host: str, port: int, token: str):
        self.host, self.port, self.token = host, port, token
        self.bytes = 0
        self.held = 0  # the newest version whose grid it holds
        self.holds: list[tuple[int, float]] = []  # (version, when its grid came: time.time())
        self.published: dict[int, float] = {}
        self.reconnects = self.errors = 0
        self.retry = 3.0
        self._grid = None  # (reader, writer)

    async def _head(self, reader) -> tuple[int, dict]:
        head = await reader.readuntil(b"\r\n\r\n")
        self.bytes += len(head)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        return int(lines[0].split()[1]), headers

    def _request(self, path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nUser-Agent: hall-phone\r\n\r\n".encode()

    async def fetch_grid(self) -> None:
        for attempt in range(2):  # a keep-alive connection the server closed: once more on a new one
            try:
                if self._grid is None:
                    self._grid = await asyncio.open_connection(self.host, self.port)
                reader, writer = self._grid
                writer.write(self._request(f"/room/grid.png?run={self.token}"))
                status, headers = await self._head(reader)
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                self.bytes += len(body)
                if headers.get("connection", "").lower() == "close":
                    writer.close()
                    self._grid = None
                if status == 200:
                    version = int(headers.get("etag", '"0"').strip('"'))
                    if version > self.held:
                        self.held = version
                        self.holds.append((version, time.time()))
                return
            except (OSError, asyncio.IncompleteReadError, ValueError):
                if self._grid is not None:
                    self._grid[1].close()
                self._grid = None
                if attempt:
                    self.errors += 1

    async def _chunks(self, reader):
        """The body of a chunked answer, chunk by chunk."""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            data = await reader.readexactly(size + 2)
            self.bytes += len(size_line) + len(data)
            if size == 0:
                return
            yield data[:-2]

    async def follow(self, ready: asyncio.Event | None, stop: asyncio.Event) -> None:
        first = True
        while not stop.is_set():
            writer = None
            try:
                reader, writer = await asyncio.open_connection(self.host, self.port)
                writer.write(self._request(f"/room/events?run={self.token}"))
                status, headers = await self._head(reader)
                if status != 200:
                    raise ConnectionError(status)
                buffer = b""
                async for chunk in self._chunks(reader):
                    buffer += chunk
                    while b"\n\n" in buffer:
                        event, buffer = buffer.split(b"\n\n", 1)
                        await self._event(event.decode())
                        if first and self.held:
                            first = False
                            if ready is not None:
                                ready.set()
                    if stop.is_set():
                        break
            except (OSError, asyncio.IncompleteReadError, ValueError, ConnectionError):
                self.errors += 1
            finally:
                if writer is not None:
                    writer.close()
            if not stop.is_set():  # dropped: EventSource waits its retry, then connects again
                self.reconnects += 1
                try:
                    await asyncio.wait_for(stop.wait(), self.retry)
                except TimeoutError:
                    pass
        if self._grid is not None:
            self._grid[1].close()

    async def _event(self, text: str) -> None:
        data = None
        for line in text.splitlines():
            if line.startswith("retry:"):
                self.retry = int(line[6:].strip()) / 1000
            elif line.startswith("data:"):
                data = json.loads(line[5:])
        if not data or "version" not in data:
            return
        if data.get("published"):
            self.published[data["version"]] = data["published"]
        if data.get("grid") and data["version"] > self.held:
            await self.fetch_grid()


async def phones_main(host: str, port: int, token: str, n: int, ramp: float) -> dict:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(sys.stdin.fileno(), lambda: (sys.stdin.readline(), stop.set()))
    phones = [Phone(host, port, token) for _ in range(n)]
    readies = [asyncio.Event() for _ in phones]
    tasks = []
    for phone, ready in zip(phones, readies, strict=True):
        tasks.append(asyncio.create_task(phone.follow(ready, stop)))
        await asyncio.sleep(ramp / max(1, n))  # the hall arrives over a few seconds, not in one instant
    try:
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), READY_SECONDS)
    except TimeoutError:
        pass
    print(f"ready {sum(r.is_set() for r in readies)} {time.time():.3f}", flush=True)
    counted = [(p.bytes, len(p.holds)) for p in phones]
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    published: dict[int, float] = {}
    for phone in phones:
        published.update(phone.published)
    return {
        "phones": n, "connected": sum(r.is_set() for r in readies),
        "bytes": [p.bytes - b for p, (b, _h) in zip(phones, counted, strict=True)],
        "grids": [len(p.holds) - h for p, (_b, h) in zip(phones, counted, strict=True)],
        "holds": [p.holds for p in phones], "published": published,
        "reconnects": sum(p.reconnects for p in phones), "errors": sum(p.errors for p in phones),
        "cpu_s": round(time.process_time(), 2),
    }  # fmt: skip


def phone_client(host: str, port: int, token: str, n: int, ramp: float) -> None:
    """--phone-client: n phones in this process."""
    print(json.dumps(asyncio.run(phones_main(host, port, token, n, ramp))), flush=True)


# ---- the bench ----------------------------------------------------------------------------------------------------
def reaching(results: list[dict], since: float, until: float, connected: int) -> dict:
    """Of the versions published in [since, until - STALE_SECONDS]: the share that >= 99 % of the phones receiving each
    had within STALE_SECONDS of its publication, and the share that >= 99 % of all connected phones had (that version or
    a newer one) within STALE_SECONDS; each grid's delay; each (version, phone)'s staleness: from the version's
    publication until the phone holds it or a newer one."""
    published: dict[int, float] = {}
    for result in results:
        published.update({int(v): t for v, t in result["published"].items()})
    holds = [h for result in results for h in result["holds"]]
    delays = [t - published[v] for phone in holds for v, t in phone if v in published and since <= published[v] <= until]
    versions = sorted(v for v, t in published.items() if since <= t <= until - STALE_SECONDS)
    received = current = 0
    stale = []
    for v in versions:
        got = [t - published[v] for phone in holds for u, t in phone if u == v]
        received += bool(got) and sum(d <= STALE_SECONDS for d in got) >= 0.99 * len(got)
        firsts = [next((t for u, t in phone if u >= v), None) for phone in holds]
        stale += [t - published[v] for t in firsts if t is not None]
        current += sum(t is not None and t - published[v] <= STALE_SECONDS for t in firsts) >= 0.99 * connected

    def quantiles(values: list[float]) -> dict:
        q = statistics.quantiles(values, n=100) if len(values) >= 2 else None
        return {"p50": round(q[49], 3) if q else None, "p99": round(q[98], 3) if q else None,
                "max": round(max(values), 3) if values else None}  # fmt: skip

    share = lambda k: round(k / len(versions), 3) if versions else None  # noqa: E731
    return {"versions": len(versions), "share_reaching_99pct_in_2s": share(received),
            "share_all_phones_current_in_2s": share(current), "delay_s": quantiles(delays), "staleness_s": quantiles(stale)}  # fmt: skip


def grid_size(url: str, token: str) -> int:
    with urllib.request.urlopen(f"{url}/room/grid.png?run={token}", timeout=30) as answer:
        return len(answer.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phones", type=int, default=500, help=f"simulated phones on the event stream (at most {MAX_PHONES})")
    parser.add_argument("--clients", type=int, default=4, help="client processes the phones are spread over")
    parser.add_argument("--seconds", type=float, default=30.0, help="the window measured with the phones connected")
    parser.add_argument("--alone", type=float, default=15.0, help="each window of the run alone")
    parser.add_argument("--baseline", type=int, default=10, help=f"Follow pages in headless Chromium (0: none; at most {MAX_BASELINE})")
    parser.add_argument("--baseline-seconds", type=float, default=20.0, help="the window measured with the Follow pages open")
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which the phones connect")
    parser.add_argument("--json", action="store_true")
    # the client processes' own modes
    parser.add_argument("--phone-client", nargs=4, metavar=("PORT", "TOKEN", "N", "RAMP"), help=argparse.SUPPRESS)
    parser.add_argument("--follow-client", nargs=3, metavar=("URL", "TOKEN", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phone_client:
        port, token, n, ramp = args.phone_client
        return phone_client("127.0.0.1", int(port), token, int(n), float(ramp))
    if args.follow_client:
        url, token, n = args.follow_client
        return follow_client(url, token, int(n))

    # bounds, before anything is started
    if not 1 <= args.phones <= MAX_PHONES:
        parser.error(f"--phones is 1 to {MAX_PHONES}")
    if not 0 <= args.baseline <= MAX_BASELINE:
        parser.error(f"--baseline is 0 to {MAX_BASELINE}")
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients is 1 to {MAX_CLIENTS}")
    for name in ("seconds", "alone", "baseline_seconds", "ramp"):
        if not 1 <= getattr(args, name) <= MAX_SECONDS:
            parser.error(f"--{name.replace('_', '-')} is 1 to {MAX_SECONDS:g} seconds")
    began = time.monotonic()
    out: dict = {"machine": f"{platform.node()}, {os.cpu_count()} cores", "load_before": [round(x, 2) for x in os.getloadavg()],
                 "nofile": nofile(args.phones)}  # fmt: skip
    if not out["nofile"]["fits"]:
        print(f"ulimit -n: {out['nofile']['soft']} open files, {out['nofile']['needed']} needed: raise the hard limit", file=sys.stderr)
        sys.exit(2)

    hall = Hall()
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not hall.status().get("grid") and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # past the run's first slices
        alone = [window(hall, args.alone)]
        print("alone:", alone[-1], file=sys.stderr, flush=True)

        if args.baseline:
            client = client_process(["--follow-client", hall.server.url, hall.token, str(args.baseline)])
            shown = wait_ready([client], READY_SECONDS + 30 * args.baseline)[0]
            followed = window(hall, args.baseline_seconds)
            result = finish([client])[0]
            alone.append(window(hall, args.alone))
            print("alone:", alone[-1], file=sys.stderr, flush=True)
            base = statistics.mean(w["digits_per_s"] for w in alone[-2:])
            idle_cpu = statistics.mean(w["server_cpu_s_per_s"] for w in alone[-2:])
            follower_versions = max(1, followed["versions"] * args.baseline)
            out["baseline"] = {
                "followers": args.baseline, "shown": int((shown.split() + ["0", "0"])[1]),
                "speed_ratio": round(followed["digits_per_s"] / base, 3),
                "server_cpu_s_per_follower_s": round((followed["server_cpu_s_per_s"] - idle_cpu) / args.baseline, 4),
                "server_cpu_s_per_1000_follower_versions": round(1000 * (followed["server_cpu_s"] - idle_cpu * followed["seconds"]) / follower_versions, 2),
                "server_mb_per_follower": round((followed["peak_tree_mb"] - alone[-2]["tree_mb"]) / args.baseline, 1),
                "server_alone_mb_per_follower": round((followed["peak_server_mb"] - alone[-2]["server_mb"]) / args.baseline, 1),
                "bytes_per_follower_per_version": round(result.get("bytes", 0) / follower_versions),
                "generator_cpu_s": result.get("cpu_s"), "window": followed,
            }  # fmt: skip
            print("baseline:", out["baseline"], file=sys.stderr, flush=True)

        before = hall.sample()
        split = [args.phones // args.clients + (i < args.phones % args.clients) for i in range(args.clients)]
        clients = [client_process(["--phone-client", str(hall.port), hall.token, str(k), str(args.ramp)]) for k in split if k]
        readies = wait_ready(clients, READY_SECONDS + args.ramp)
        connected = sum(int((line.split() + ["0", "0"])[1]) for line in readies)
        watched = window(hall, args.seconds)
        results = finish(clients)
        alone.append(window(hall, args.alone))
        print("alone:", alone[-1], file=sys.stderr, flush=True)
        base = statistics.mean(w["digits_per_s"] for w in alone[-2:])
        idle_cpu = statistics.mean(w["server_cpu_s_per_s"] for w in alone[-2:])
        grids = sum(sum(r.get("grids", [])) for r in results)
        received = sum(sum(r.get("bytes", [])) for r in results)
        sizes = grid_size(hall.server.url, hall.token)
        out["phones"] = {
            "n": args.phones, "clients": len(clients), "connected": connected,
            "speed_ratio": round(watched["digits_per_s"] / base, 3),
            **reaching([r for r in results if "holds" in r], watched["wall_from"], watched["wall_from"] + watched["seconds"], connected),
            "bytes_per_phone_per_version": round(received / max(1, grids)), "grid_bytes": sizes,
            "grids_received": grids, "published_in_window": watched["versions"],
            "server_cpu_s_per_1000_phone_versions": round(1000 * (watched["server_cpu_s"] - idle_cpu * watched["seconds"]) / max(1, grids), 3),
            "server_cpu_s_per_s": [round(idle_cpu, 4), watched["server_cpu_s_per_s"]],
            "server_cpu_s_per_phone_s": round((watched["server_cpu_s_per_s"] - idle_cpu) / max(1, connected), 5),
            "server_mb_per_phone": round((watched["peak_tree_mb"] - before["tree_mb"]) / max(1, connected), 3),
            "training_cpu_s_per_s": [round(statistics.mean(w["training_cpu_s_per_s"] for w in alone[-2:]), 3), watched["training_cpu_s_per_s"]],
            "server_added_mb": round(watched["peak_tree_mb"] - before["tree_mb"], 1),
            "server_alone_added_mb": round(watched["peak_server_mb"] - before["server_mb"], 1),
            "generator_cpu_s": round(sum(r.get("cpu_s", 0) for r in results), 2),
            "reconnects": sum(r.get("reconnects", 0) for r in results), "errors": sum(r.get("errors", 0) for r in results),
            "window": watched,
        }  # fmt: skip
        print("phones:", {k: v for k, v in out["phones"].items() if k != "window"}, file=sys.stderr, flush=True)
        out["alone"] = alone
    finally:
        hall.close()
    out["elapsed_s"] = round(time.monotonic() - began, 1)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
