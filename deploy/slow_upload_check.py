"""Slow uploads stall gunicorn on its own, and do not behind nginx (deploy/nginx.conf).

    .venv/bin/python deploy/slow_upload_check.py [--uploads 4] [--seconds 8]

Starts gunicorn (backend/gunicorn.conf.py, one worker with two threads, an SQLite database
in a temporary directory) on a free loopback port, then for each front (gunicorn directly,
then nginx when it is installed: `apt-get install -y nginx`) opens N uploads that trickle
a login body one byte at a time over S seconds, and meanwhile times GET /healthz twice a
second. It prints the latencies, then checks nginx's oversized-request answers are
problem+json. Loopback only; every wait is bounded. Exit status 1 when /healthz stalled
(max over 1 s) behind nginx, or nginx answered an oversized request with something else.
Not part of `make test`: it takes about 30 s (two fronts x S seconds, plus start-up).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKEND = ROOT / "backend"
BIN = Path(sys.executable).parent
STALL_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(port: int, *, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    raise SystemExit(f"nothing answered on 127.0.0.1:{port} within {deadline_s:.0f} s")


def start_gunicorn(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp / 'app.db'}",
        "JWT_SECRET_KEY": "slow-upload-check-secret-of-32-bytes!",
        "FLASK_APP": "app",
        "RATELIMIT_STORAGE_URI": "memory://",
        "AUTH_LIMIT": "100000 per minute",
        "AUTH_EMAIL_LIMIT": "100000 per minute",
        "AUTH_CLIENT_FAILURE_LIMIT": "100000 per minute",
        "REQUEST_LOG_ENABLED": "false",
        "WEB_CONCURRENCY": "1",
        "GUNICORN_THREADS": "2",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_LOG_LEVEL": "warning",
        "TRUSTED_PROXIES": "1",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([str(BIN / "flask"), "db", "upgrade"], cwd=BACKEND, env=env, check=True,
                   capture_output=True, timeout=120)
    return subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "app:create_app()"],
        cwd=BACKEND, env=env, stdout=subprocess.DEVNULL, stderr=(tmp / "gunicorn.log").open("wb"),
    )


def start_nginx(tmp: Path, port: int, upstream: int) -> subprocess.Popen[bytes] | None:
    nginx = shutil.which("nginx", path=os.environ.get("PATH", "") + ":/usr/sbin")
    if nginx is None:
        return None
    server = (ROOT / "deploy" / "nginx.conf").read_text()
    server = server.replace("listen 80;", f"listen 127.0.0.1:{port};")
    server = server.replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream};")
    server = server.replace("/srv/challenge/deploy/errors/", f"{ROOT / 'deploy' / 'errors'}/")
    (tmp / "server.conf").write_text(server)
    (tmp / "nginx.conf").write_text(
        f"worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log warn;\n"
        "events { worker_connections 256; }\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {tmp}/body;\n"
        f"  proxy_temp_path {tmp}/proxy;\n  fastcgi_temp_path {tmp}/fastcgi;\n"
        f"  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n"
        f"  include {tmp}/server.conf;\n}}\n"
    )
    check = subprocess.run([nginx, "-t", "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                           capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        raise SystemExit(f"nginx -t failed:\n{check.stderr}")
    return subprocess.Popen([nginx, "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
                             "-g", "daemon off;"], stderr=subprocess.DEVNULL)


def trickle_upload(port: int, seconds: float, stop: threading.Event) -> None:
    """A login whose body arrives one byte at a time over `seconds` (a slow mobile link)."""
    body = b'{"email": "slow@example.com", "password": "slow-upload-password"}'
    head = (f"POST /api/v2/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    pause = seconds / len(body)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=seconds + 15) as sock:
            sock.sendall(head)
            for i in range(len(body)):
                if stop.wait(pause):
                    return
                sock.sendall(body[i:i + 1])
            sock.recv(4096)
    except OSError:
        pass


def probe_healthz(port: int, seconds: float) -> list[float]:
    """Latencies of GET /healthz every half second while the uploads run (timeouts count)."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                        timeout=seconds + 5) as r:
                r.read()
        except (OSError, urllib.error.URLError):
            pass
        latencies.append(time.monotonic() - started)
        time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))
    return latencies


def run_front(name: str, port: int, uploads: int, seconds: float) -> float:
    stop = threading.Event()
    threads = [threading.Thread(target=trickle_upload, args=(port, seconds, stop), daemon=True)
               for _ in range(uploads)]
    for t in threads:
        t.start()
    time.sleep(0.3)  # the uploads have their connections (and, directly, the threads)
    latencies = probe_healthz(port, seconds)
    stop.set()
    for t in threads:
        t.join(timeout=seconds + 20)
    worst = max(latencies)
    print(f"{name:<22} {uploads} slow uploads over {seconds:.0f} s: /healthz answered "
          f"{len(latencies)} times, median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {worst * 1000:.0f} ms")
    return worst


def check_nginx_errors(port: int) -> bool:
    """Oversized requests: nginx answers with problem+json, before gunicorn."""
    cases = {
        413: urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/analytics/track",
                                    data=b"x" * (65 * 1024), method="POST",
                                    headers={"Content-Type": "application/json"}),
        414: urllib.request.Request(f"http://127.0.0.1:{port}/api/v2/videos?q={'a' * 9000}"),
        431: urllib.request.Request(f"http://127.0.0.1:{port}/healthz",
                                    headers={"X-Big": "b" * 6000}),
    }
    ok = True
    for status, request in cases.items():
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                got, kind = r.status, r.headers.get("Content-Type")
        except urllib.error.HTTPError as e:
            got, kind = e.code, e.headers.get("Content-Type")
        good = got == status and kind == "application/problem+json"
        ok &= good
        print(f"nginx, oversized ({status}): {got} {kind} {'ok' if good else 'UNEXPECTED'}")
    return ok


def stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=4, help="slow uploads at once (> threads)")
    parser.add_argument("--seconds", type=float, default=8.0, help="each upload's duration")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="slow-upload-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)  # nginx's workers (user nobody) read their temp paths under it
        app_port, nginx_port = free_port(), free_port()
        gunicorn = start_gunicorn(tmp, app_port)
        nginx = None
        try:
            wait_until_up(app_port)
            run_front("gunicorn directly", app_port, args.uploads, args.seconds)
            nginx = start_nginx(tmp, nginx_port, app_port)
            if nginx is None:
                print("nginx is not installed (apt-get install -y nginx): front not checked")
                return 0
            wait_until_up(nginx_port)
            worst = run_front("nginx -> gunicorn", nginx_port, args.uploads, args.seconds)
            errors_ok = check_nginx_errors(nginx_port)
        finally:
            stop(nginx)
            stop(gunicorn)
    if worst > STALL_SECONDS or not errors_ok:
        print("FAILED: behind nginx /healthz stalled or an error was not problem+json")
        return 1
    print(f"OK: behind nginx /healthz never waited more than {STALL_SECONDS:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
