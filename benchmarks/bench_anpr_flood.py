"""The ANPR listener under a flood and under slow clients: memory and held connections.

Usage: ``python benchmarks/bench_anpr_flood.py [--repo PATH] [--url URL] [--clients 20] [--size 5000000]
[--slow 50] [--hold 30] [--trickle 1.0]``

Starts the listener of the checkout at ``--repo`` (default: this one) in a
child process, opened from ``--url`` (default ``anpr+http://127.0.0.1:0/``,
i.e. that checkout's defaults), on 127.0.0.1 only. Then:

1. flood: ``--clients`` posts at once of a camera-shaped multipart body (a
   Hikvision alert and a ``--size``-byte picture), each from its own thread
   with the standard library's HTTP client; prints the child's resident set
   before, at its peak (``VmHWM``) and 2 s after, from ``/proc/PID/status``,
   the answers the clients got, and whether a normal post is answered after;
2. slow: ``--slow`` raw connections, half trickling their headers and half
   their body (headers sent, ``Content-Length: 1000``), one byte per
   ``--trickle`` seconds; prints how many the server still holds after
   ``--hold`` seconds and when it dropped the last one.

Compare a checkout before the hardening with ``--repo /path/to/old`` (the
same script drives both: it uses only ``hardware.cameras.open_camera`` and
HTTP).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from hardware.cameras import open_camera
camera = open_camera(sys.argv[2])
camera.start(lambda read: None)
print(camera.port, flush=True)
sys.stdin.read()
camera.stop()
"""
XML = ('<?xml version="1.0" encoding="UTF-8"?><EventNotificationAlert version="2.0" '
       'xmlns="http://www.hikvision.com/ver20/XMLSchema"><eventType>ANPR</eventType><ANPR>'
       "<licensePlate>AB12CDE</licensePlate><confidenceLevel>90</confidenceLevel></ANPR>"
       "<UUID>{uuid}</UUID></EventNotificationAlert>")


def camera_post(size: int, uuid: str) -> tuple[bytes, str]:
    xml = XML.format(uuid=uuid).encode()
    picture = b"\xff\xd8" + os.urandom(max(0, size - 2))
    body = (b'--b\r\nContent-Disposition: form-data; name="anpr.xml"; filename="anpr.xml"\r\n'
            b"Content-Type: text/xml\r\n\r\n" + xml + b"\r\n--b\r\nContent-Disposition: form-data; "
            b'name="detectionPicture.jpg"; filename="detectionPicture.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
            + picture + b"\r\n--b--\r\n")
    return body, "multipart/form-data; boundary=b"


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of ``pid`` in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def one_post(port: int, body: bytes, content_type: str, timeout: float) -> int | str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/", body=body, headers={"Content-Type": content_type})
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__
    finally:
        connection.close()


def flood(port: int, pid: int, clients: int, size: int) -> dict:
    body, content_type = camera_post(size, "flood")
    before = memory(pid)["VmRSS"]
    outcomes: list[int | str] = []
    gate = threading.Barrier(clients)

    def client() -> None:
        gate.wait()
        outcomes.append(one_post(port, body, content_type, 30))

    began = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    seconds = time.monotonic() - began
    peak = memory(pid)["VmHWM"]
    time.sleep(2)
    after = memory(pid)["VmRSS"]
    normal, _ = camera_post(1000, "after")
    answered = one_post(port, normal, "multipart/form-data; boundary=b", 10)
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[str(outcome)] = counts.get(str(outcome), 0) + 1
    return {"rss_before_mib": round(before, 1), "rss_peak_mib": round(peak, 1), "rss_after_2s_mib": round(after, 1),
            "answers": counts, "seconds": round(seconds, 2), "normal_post_after": answered}


def slow(port: int, count: int, hold: float, trickle: float) -> dict:
    texts: dict[socket.socket, bytes] = {}
    opened = time.monotonic()
    for index in range(count):
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            continue
        if index % 2:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n")
            texts[sock] = b"{"
        else:
            texts[sock] = b"POST / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 4096
    connected = len(texts)
    dropped_at: list[float] = []
    step = 0
    next_byte = time.monotonic()
    while texts and time.monotonic() - opened < hold:
        if time.monotonic() >= next_byte:
            for sock, text in texts.items():
                try:
                    sock.send(text[step % len(text):step % len(text) + 1])
                except OSError:
                    pass
            step += 1
            next_byte += trickle
        readable, _, _ = select.select(list(texts), [], [], 0.05)
        for sock in readable:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data or data.startswith(b"HTTP/1.1 503"):
                dropped_at.append(time.monotonic() - opened)
                del texts[sock]
                sock.close()
    held = len(texts)
    for sock in texts:
        sock.close()
    return {"connections": connected, "held_after_s": round(hold, 1), "still_held": held,
            "dropped": len(dropped_at), "last_dropped_after_s": round(max(dropped_at), 2) if dropped_at else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=str(HERE), help="checkout whose listener is measured")
    parser.add_argument("--url", default="anpr+http://127.0.0.1:0/", help="camera URL (options included)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--size", type=int, default=5_000_000, help="picture bytes in each flood post")
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--hold", type=float, default=30.0, help="seconds before counting held slow connections")
    parser.add_argument("--trickle", type=float, default=1.0, help="seconds between two bytes of a slow client")
    args = parser.parse_args()
    if not args.url.startswith(("anpr+http://127.", "hikvision+http://127.", "anpr+http://[::1]")):
        sys.exit("bench_anpr_flood: listen on the loopback only (127.0.0.0/8 or [::1])")
    child = subprocess.Popen([sys.executable, "-c", CHILD, args.repo, args.url], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(child.stdout.readline())
        report = {"repo": args.repo, "url": args.url, "clients": args.clients, "size": args.size}
        report["flood"] = flood(port, child.pid, args.clients, args.size)
        report["slow"] = slow(port, args.slow, args.hold, args.trickle)
        print(json.dumps(report, indent=2))
    finally:
        child.stdin.close()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


if __name__ == "__main__":
    main()
