"""The HTTP API, as an integrator meets it: ``attendant serve`` started as a real process on 127.0.0.1
(a free port), a real HTTP client (httpx), the database file read back.

Covers: the OpenAPI document; availability equal to ``attendant status --json``;
entries and exits with a token (the same fields as the CLI's ``--json``, the
audit actor ``api:<name>``), refused without one (401) or with too small a
role (403); idempotent retries (one session, one charge); problem+json for
bad input; the event stream receiving an entry made through the CLI; the
body size limit.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
PROBLEM = "application/problem+json"


@dataclass
class Server:
    """A running ``attendant serve`` and what it printed on stderr."""

    proc: subprocess.Popen
    url: str
    stderr: list[str] = field(default_factory=list)

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def start_server(cli, *extra: str) -> Server:
    """``attendant --db ... serve --port 0`` in a subprocess; waits for its 'serving' line."""
    env = {k: v for k, v in {**os.environ, **cli.env, "PYTHONPATH": str(REPO)}.items() if v is not None}
    proc = subprocess.Popen([sys.executable, "-m", "attendant", "--db", cli.db, *extra, "serve", "--host",
                             "127.0.0.1", "--port", "0", "--log-level", "warning"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        for line in proc.stderr:
            lines.append(line)
            match = re.search(r"serving the API on (http://\S+) ", line)
            if match:
                found.append(match.group(1))
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    assert ready.wait(60) and found, f"server did not start: {''.join(lines)}"
    server = Server(proc, found[0], lines)
    deadline = time.monotonic() + 30
    while True:  # the socket is bound before uvicorn runs: wait until it answers
        try:
            httpx.get(f"{server.url}/openapi.json", timeout=5)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            time.sleep(0.1)
    return server


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(15)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(5)


@pytest.fixture
def served(cli) -> Iterator[tuple]:
    """The demo database served over HTTP: (server, cli)."""
    server = start_server(cli)
    try:
        yield server, cli
    finally:
        stop_server(server)


ADMIN = ["--user", "root", "--pin", "135790"]


def make_users_and_tokens(cli) -> dict[str, str]:
    """An admin user (setup mode ends) and a token per role: {role: token}."""
    cli.run("user", "add", "root", "--role", "admin", "--pin", "135790")
    tokens = {}
    for role in ("attendant", "supervisor", "admin"):
        out = cli.json(*ADMIN, "token", "create", "--role", role, "--name", f"{role}-client")
        assert out["role"] == role and out["token"].startswith("att_")
        tokens[role] = out["token"]
    return tokens


def rows(cli, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(cli.db.removeprefix("sqlite:///")) as conn:
        return conn.execute(sql, params).fetchall()


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    assert "select" not in json.dumps(body).lower()  # never SQL
    return body


# ----------------------------------------------------------------------------- reads
def test_openapi_document_and_availability_equal_status_json(served):
    server, cli = served
    with server.client() as http:
        doc = http.get("/openapi.json").json()
        assert doc["openapi"].startswith("3.")
        for path in ("/v1/facilities", "/v1/facilities/{code}/availability", "/v1/facilities/{code}/entries",
                     "/v1/facilities/{code}/exits", "/v1/facilities/{code}/sessions",
                     "/v1/facilities/{code}/reports/{period}", "/v1/facilities/{code}/events"):
            assert path in doc["paths"], path
        assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"

        facilities = http.get("/v1/facilities").json()["facilities"]
        assert [f["code"] for f in facilities] == ["CHS"]
        before = http.get("/v1/facilities/CHS/availability").json()  # the server's booth is open from here
        assert before["occupied"] == 0
        cli.run("enter", "AB12 CDE", "--vehicle", "car")  # another process: the server follows the change log
        status = cli.json("status")
        deadline = time.monotonic() + 5
        while True:
            api = http.get("/v1/facilities/CHS/availability").json()
            by_type = api.pop("by_spot_type")
            if api == status or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert api == status
    assert sum(t["capacity"] for t in by_type.values()) == status["capacity"] == 1056
    assert sum(t["available"] for t in by_type.values()) == status["available"] == 1055


# ----------------------------------------------------------------------------- writes, tokens and roles
def test_entries_and_exits_with_tokens_401_without_and_403_for_a_small_role(served):
    server, cli = served
    tokens = make_users_and_tokens(cli)
    with server.client() as anonymous:
        body = assert_problem(anonymous.post("/v1/facilities/CHS/entries", json={"plate": "NO 70KEN"}), 401)
        assert "token" in body["detail"]
        assert anonymous.post("/v1/facilities/CHS/entries", json={"plate": "NO 70KEN"}).headers[
            "www-authenticate"].startswith("Bearer")
        assert_problem(anonymous.get("/v1/facilities/CHS/availability"), 401)
    with server.client("att_not-a-real-token") as forged:
        assert_problem(forged.post("/v1/facilities/CHS/entries", json={"plate": "NO 70KEN"}), 401)
    assert rows(cli, "SELECT count(*) FROM parking_session") == [(0,)]

    with server.client(tokens["attendant"]) as http:
        three_hours_ago = (datetime.now(UTC) - timedelta(hours=3)).isoformat(timespec="seconds")
        entry = http.post("/v1/facilities/CHS/entries", json={"plate": "AP1 ENT", "vehicle": "van", "lane": "E1",
                                                              "at": three_hours_ago})
        assert entry.status_code == 201, entry.text
        e = entry.json()
        cli_keys = set(cli.json(*ADMIN, "enter", "CL1 KEY").keys())
        assert set(e) == cli_keys  # the same fields as `attendant enter --json`
        assert e["plate"] == "AP1ENT" and e["vehicle_class"] == "van" and e["lane"] == "E1" and not e["replayed"]
        assert entry.headers["location"] == f"/v1/facilities/CHS/sessions?ticket_no={e['ticket_no']}"
        found = http.get(entry.headers["location"]).json()["sessions"]
        assert [(s["ticket_no"], s["status"], s["code"]) for s in found] == [(e["ticket_no"], "open", e["code"])]
        assert http.get("/v1/facilities/CHS/sessions", params={"plate": "ap1 ent"}).json()["sessions"][0][
            "ticket_no"] == e["ticket_no"]

        short = http.post("/v1/facilities/CHS/exits", json={"code": e["code"], "pay": ["cash"], "tendered": "0.10"})
        assert assert_problem(short, 402)["type"] == "urn:attendant:problem:payment"
        # amounts are read as the CLI and the console read them (issue 10 item 9): 10,00 is no GBP amount, and a
        # tender far above the fee needs confirm_amount
        comma = http.post("/v1/facilities/CHS/exits", json={"code": e["code"], "pay": ["cash"], "tendered": "10,00"})
        assert "'10,00' is not an amount in GBP: type 10.00" in assert_problem(comma, 422)["detail"]
        far = http.post("/v1/facilities/CHS/exits", json={"code": e["code"], "pay": ["cash"], "tendered": "1000"})
        assert "is the amount right" in assert_problem(far, 402)["detail"]
        assert rows(cli, "SELECT count(*) FROM payment") == [(0,)]  # nothing taken, the vehicle still inside
        x = http.post("/v1/facilities/CHS/exits", json={"code": e["code"], "pay": ["cash"], "tendered": "50"})
        assert x.status_code == 200, x.text
        out = x.json()
        assert out["ticket_no"] == e["ticket_no"] and out["currency"] == "GBP" and out["gate"] == "opened"
        assert {"amount_due", "paid", "change", "lines", "payments", "iou"} <= set(out)
        assert out["amount_due"] != "0.00" and out["paid"] == out["amount_due"]
        assert out["payments"][0]["method"] == "cash" and out["payments"][0]["status"] == "completed"
        closed = http.get("/v1/facilities/CHS/sessions", params={"ticket_no": e["ticket_no"]}).json()["sessions"][0]
        assert closed["status"] == "closed" and closed["amount_paid"] == out["paid"]

        # an attendant token on a supervisor's operation: 403, nothing changed
        body = assert_problem(http.post("/v1/facilities/CHS/spots/L1-A01/out-of-service", json={"reason": "spill"}),
                              403)
        assert "supervisor" in body["detail"]
    assert rows(cli, "SELECT status FROM spot WHERE label = 'L1-A01'") == [("available",)]
    with server.client(tokens["supervisor"]) as http:
        done = http.post("/v1/facilities/CHS/spots/L1-A01/out-of-service", json={"reason": "spill"})
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "out_of_service"
    assert rows(cli, "SELECT status FROM spot WHERE label = 'L1-A01'") == [("out_of_service",)]

    # every operation is audited as the token
    actors = dict(rows(cli, "SELECT action, actor FROM audit_event WHERE action IN "
                            "('session.enter', 'session.exit', 'spot.out_of_service') AND actor LIKE 'api:%'"))
    assert actors == {"session.enter": "api:attendant-client", "session.exit": "api:attendant-client",
                      "spot.out_of_service": "api:supervisor-client"}

    # a revoked token is refused from the next request on
    cli.run(*ADMIN, "token", "revoke", "attendant-client")
    with server.client(tokens["attendant"]) as http:
        assert_problem(http.post("/v1/facilities/CHS/entries", json={"plate": "RE V0KED"}), 401)
    listed = {t["name"]: t for t in cli.json(*ADMIN, "token", "list")["tokens"]}
    assert listed["attendant-client"]["revoked_at"] and listed["admin-client"]["revoked_at"] is None
    assert "att_" not in json.dumps(listed)  # never the token itself
    stored = [h for (h,) in rows(cli, "SELECT token_hash FROM api_token")]
    assert all(len(h) == 64 and h not in tokens.values() for h in stored)


def test_a_token_is_created_by_an_admin_only_and_shown_once(cli):
    cli.run("user", "add", "root", "--role", "admin", "--pin", "135790")
    cli.run(*ADMIN, "user", "add", "sue", "--role", "supervisor", "--pin", "246800")
    refused = cli.run("--user", "sue", "--pin", "246800", "token", "create", "--role", "attendant", "--name", "x",
                      expect=2)
    assert "admin" in refused.stderr
    made = cli.run(*ADMIN, "token", "create", "--role", "attendant", "--name", "pay-station-1")
    token = made.stdout.strip()
    assert token.startswith("att_") and "shown this once" in made.stderr
    again = cli.run(*ADMIN, "token", "create", "--role", "admin", "--name", "PAY-STATION-1", expect=2)
    assert "never reused" in again.stderr
    assert rows(cli, "SELECT name, role FROM api_token") == [("pay-station-1", "attendant")]


# ----------------------------------------------------------------------------- idempotency
def test_a_retried_post_with_the_same_idempotency_key_makes_one_session_and_one_charge(served):
    server, cli = served
    with server.client() as http:  # setup mode: no users, no token needed (attendant level)
        stay = {"plate": "ID3 MPT", "at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")}
        first = http.post("/v1/facilities/CHS/entries", json=stay, headers={"Idempotency-Key": "e-1"})
        again = http.post("/v1/facilities/CHS/entries", json=stay, headers={"Idempotency-Key": "e-1"})
        assert first.status_code == 201 and again.status_code == 200, again.text
        assert again.json()["session_id"] == first.json()["session_id"] and again.json()["replayed"]
        assert again.json()["gate"] == "already entered"
        other = http.post("/v1/facilities/CHS/entries", json={"plate": "OTH 3R"}, headers={"Idempotency-Key": "e-1"})
        assert "another entry" in assert_problem(other, 422)["detail"]
        assert rows(cli, "SELECT count(*) FROM parking_session") == [(1,)]

        code = first.json()["code"]
        pay = {"code": code, "pay": ["card"]}
        one = http.post("/v1/facilities/CHS/exits", json=pay, headers={"Idempotency-Key": "x-1"})
        two = http.post("/v1/facilities/CHS/exits", json=pay, headers={"Idempotency-Key": "x-1"})
        assert one.status_code == 200 and two.status_code == 200, two.text
        assert two.json()["replayed"] and two.json()["gate"] == "already exited"
        assert two.json()["payments"] == one.json()["payments"] and one.json()["paid"] != "0.00"
        schemas = http.get("/openapi.json").json()["components"]["schemas"]  # the documented shapes are the real ones
        assert set(schemas["EntryOut"]["properties"]) == set(first.json())
        assert set(schemas["ExitOut"]["properties"]) == set(one.json())
        without = http.post("/v1/facilities/CHS/exits", json=pay)  # no key: a second exit is refused
        assert "exited" in assert_problem(without, 409)["detail"]

        grace = http.post("/v1/facilities/CHS/entries", json={"plate": "GR4 CE"}).json()  # nothing due: no payment
        free = {"code": grace["code"]}
        one_free = http.post("/v1/facilities/CHS/exits", json=free, headers={"Idempotency-Key": "x-2"})
        two_free = http.post("/v1/facilities/CHS/exits", json=free, headers={"Idempotency-Key": "x-2"})
        assert one_free.status_code == 200 and two_free.status_code == 200, two_free.text
        assert one_free.json()["paid"] == "0.00" and two_free.json()["replayed"]
        assert two_free.json()["exit_at"] == one_free.json()["exit_at"]
        bad_key = http.post("/v1/facilities/CHS/entries", json={"plate": "K3Y"}, headers={"Idempotency-Key": "a b"})
        assert_problem(bad_key, 422)
    charges = rows(cli, "SELECT count(*), sum(amount) FROM payment WHERE status = 'completed'")
    assert charges[0][0] == 1
    assert rows(cli, "SELECT count(*) FROM parking_session") == [(2,)]


# ----------------------------------------------------------------------------- errors and limits
def test_bad_input_gets_problem_details_and_changes_nothing(served):
    server, cli = served
    with server.client() as http:
        body = assert_problem(http.post("/v1/facilities/CHS/entries", json={"plate": "AB1", "vehicle": "spaceship"}),
                              422)
        assert body["type"] == "urn:attendant:problem:input" and "spaceship" in body["detail"]
        assert body["instance"] == "/v1/facilities/CHS/entries"
        assert_problem(http.post("/v1/facilities/CHS/entries", json={"plate": "AB1", "colour": "red"}), 422)
        assert_problem(http.post("/v1/facilities/CHS/entries", content=b"{not json",
                                 headers={"content-type": "application/json"}), 400)
        assert_problem(http.post("/v1/facilities/CHS/entries", json={"plate": "AB1", "at": "yesterday"}), 422)
        assert_problem(http.post("/v1/facilities/ZZZ/entries", json={"plate": "AB1"}), 404)
        assert_problem(http.post("/v1/facilities/CHS/exits", json={"code": "CHS-00000001-FORGEDFORGEDFORG"}), 422)
        assert_problem(http.post("/v1/facilities/CHS/exits", json={"code": "x", "tendered": 1.5}), 422)
        assert_problem(http.get("/v1/facilities/CHS/reports/yearly"), 422)
        assert_problem(http.get("/v1/facilities/CHS/sessions"), 422)
        assert_problem(http.get("/v1/facilities/CHS/sessions", params={"plate": "NOT IN"}), 404)
        assert_problem(http.get("/v1/nowhere"), 404)
        assert_problem(http.get("/v1/facilities/ZZZ/events"), 404)  # refused before the stream starts
        entered = http.post("/v1/facilities/CHS/entries", json={"plate": "TW1 CE"}).json()
        twice = assert_problem(http.post("/v1/facilities/CHS/entries", json={"plate": "TW1 CE"}), 409)
        assert "anti-passback" in twice["detail"]
        big = http.post("/v1/facilities/CHS/entries", content=b'{"plate": "' + b"A" * 70_000 + b'"}',
                        headers={"content-type": "application/json"})
        assert "larger than 65536" in assert_problem(big, 413)["detail"]

        def chunks():  # no Content-Length: counted as it arrives
            yield b'{"plate": "'
            for _ in range(20):
                yield b"B" * 4096
            yield b'"}'

        chunked = http.post("/v1/facilities/CHS/entries", content=chunks(), headers={"content-type": "application/json"})
        assert "content-length" not in chunked.request.headers  # sent in chunks
        assert "larger than 65536" in assert_problem(chunked, 413)["detail"]
        csv = http.get("/v1/facilities/CHS/reports/daily", params={"format": "csv"})
        assert csv.headers["content-type"].startswith("text/csv") and csv.text.count("\n") > 5
        daily = http.get("/v1/facilities/CHS/reports/daily").json()
        assert daily["facility"] == "CHS" and daily["period"] == "daily"
    assert rows(cli, "SELECT count(*) FROM parking_session") == [(1,)]
    assert rows(cli, "SELECT ticket_no FROM parking_session") == [(int(entered["ticket_no"]),)]


def test_a_refused_body_still_gets_its_413_while_the_client_is_sending(served):
    """The 413 for a body declared too large is sent after the body is read (up to a bound) and thrown
    away: a server that answered and closed mid-upload made the kernel reset the connection, and the client
    lost the answer ("Connection reset by peer" in CI). A raw socket sends the body slowly, after the
    headers, then reads."""
    import socket
    import time
    from urllib.parse import urlsplit

    server, _cli = served
    where = urlsplit(server.url)
    body = b'{"plate": "' + b"A" * 70_000 + b'"}'
    with socket.create_connection((where.hostname, where.port), timeout=20) as sock:
        sock.sendall(b"POST /v1/facilities/CHS/entries HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        time.sleep(0.3)  # the server has seen the length and decided
        for start in range(0, len(body), 10_000):
            sock.sendall(body[start:start + 10_000])
            time.sleep(0.05)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


# ----------------------------------------------------------------------------- live events
def test_the_event_stream_receives_an_entry_made_through_the_cli(served):
    server, cli = served
    received: list[dict] = []
    opened = threading.Event()

    def listen() -> None:
        with httpx.Client(base_url=server.url, timeout=httpx.Timeout(30, read=20)) as http:
            with http.stream("GET", "/v1/facilities/CHS/events") as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                for line in stream.iter_lines():
                    if line.startswith(":"):
                        opened.set()  # the stream's first comment: the watcher is following
                    if line.startswith("data: "):
                        received.append(json.loads(line[6:]))
                        if received[-1]["kind"] == "entry":
                            return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert opened.wait(30), "the stream did not open"
    time.sleep(0.5)
    entry = cli.json("enter", "SS3 EVT", "--vehicle", "car")
    thread.join(30)
    kinds = {c["kind"] for c in received}
    assert "entry" in kinds, received
    seen = [c for c in received if c["kind"] == "entry"][0]
    assert seen["ticket_no"] == entry["ticket_no"] and seen["spot"] == entry["spot"] and seen["facility"] == "CHS"
    assert set(seen) >= {"id", "kind", "facility", "ticket_no", "spot", "lane", "vehicle_class"}


@pytest.mark.postgres
def test_on_postgresql_entries_retries_and_the_event_stream(pg_url, tmp_path):
    """The same API on a PostgreSQL database: the stream follows LISTEN/NOTIFY, retried entries hold."""
    from tests.cli_support import Attendant

    cli = Attendant(tmp_path, db=pg_url)
    from tests.conftest import SMALL_LAYOUT

    layout = tmp_path / "small.toml"
    layout.write_text(SMALL_LAYOUT)
    cli.run("init", "--layout", str(layout), "--rates", str(REPO / "examples" / "rates" / "charlotte_street.toml"))
    facility = cli.json("status")["facility"]
    server = start_server(cli)
    try:
        received: list[dict] = []
        opened = threading.Event()

        def listen() -> None:
            with httpx.Client(base_url=server.url, timeout=httpx.Timeout(30, read=20)) as http:
                with http.stream("GET", f"/v1/facilities/{facility}/events") as stream:
                    for line in stream.iter_lines():
                        if line.startswith(":"):
                            opened.set()
                        if line.startswith("data: "):
                            received.append(json.loads(line[6:]))
                            if sum(c["kind"] == "entry" for c in received) == 2:
                                return

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        assert opened.wait(30)
        time.sleep(0.5)
        with server.client() as http:
            key = {"Idempotency-Key": "pg-1"}
            first = http.post(f"/v1/facilities/{facility}/entries", json={"plate": "PG1 API"}, headers=key)
            again = http.post(f"/v1/facilities/{facility}/entries", json={"plate": "PG1 API"}, headers=key)
            assert (first.status_code, again.status_code) == (201, 200), again.text
            assert again.json()["session_id"] == first.json()["session_id"]
        by_cli = cli.json("enter", "PG2 CLI")
        thread.join(30)
        entries = [c for c in received if c["kind"] == "entry"]
        assert [c["ticket_no"] for c in entries] == [first.json()["ticket_no"], by_cli["ticket_no"]]
        with server.client() as http:
            api = http.get(f"/v1/facilities/{facility}/availability").json()
        api.pop("by_spot_type")
        assert api == cli.json("status")

        token = make_users_and_tokens(cli)["attendant"]
        with server.client() as http:
            assert_problem(http.post(f"/v1/facilities/{facility}/entries", json={"plate": "PG3 TOK"}), 401)
        with server.client(token) as http:
            made = http.post(f"/v1/facilities/{facility}/entries", json={"plate": "PG3 TOK"})
            assert made.status_code == 201, made.text
            assert_problem(http.post(f"/v1/facilities/{facility}/spots/L0-A01/out-of-service",
                                     json={"reason": "test"}), 403)
    finally:
        stop_server(server)


def test_serve_refuses_a_bad_port_or_a_port_in_use_with_one_line(cli):
    import socket

    assert "not a TCP port" in cli.run("serve", "--port", "70000", expect=2).stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ran = cli.run("serve", "--port", str(busy.getsockname()[1]), expect=2)
    assert ran.stderr.startswith("attendant: cannot listen on 127.0.0.1:") and len(ran.stderr.splitlines()) == 1


def test_accounts_and_plate_lists_over_http(served):
    """The account and plate-list operations over HTTP (issue 10 items 7 and 8): the same services, roles and
    JSON as ``attendant account`` and ``attendant plates``."""
    server, cli = served
    tokens = make_users_and_tokens(cli)
    with server.client(tokens["attendant"]) as attendant:
        assert_problem(attendant.post("/v1/facilities/CHS/accounts", json={"reference": "API1", "holder": "A"}),
                       403)
        assert_problem(attendant.post("/v1/facilities/CHS/plates",
                                      json={"list": "deny", "plate": "AP1DNY", "reason": "BANNED"}), 403)
    assert rows(cli, "SELECT count(*) FROM account") == [(0,)]
    with server.client(tokens["supervisor"]) as http:
        bad = http.post("/v1/facilities/CHS/accounts", json={"reference": "API1", "holder": "API Ltd",
                                                             "limit": "10,00"})
        assert "not an amount in GBP" in assert_problem(bad, 422)["detail"]
        added = http.post("/v1/facilities/CHS/accounts", json={"reference": "api1", "holder": "API Ltd",
                                                               "limit": "25"})
        assert added.status_code == 201, added.text
        assert added.json()["reference"] == "API1" and added.json()["credit_limit"] == "25.00"
        assert http.get("/v1/facilities/CHS/accounts").json()[0]["holder"] == "API Ltd"
        statement = http.get("/v1/facilities/CHS/accounts/API1/statement", params={"month": "2026-11"}).json()
        assert statement["total"] == "0.00" and statement["charges"] == [] and statement["credit_limit"] == "25.00"
        assert http.post("/v1/facilities/CHS/accounts/API1/close", json={"reason": "UNPAID"}).json()["status"] == \
            "closed"
        listed = http.post("/v1/facilities/CHS/plates", json={"list": "deny", "plate": "AP1 DNY",
                                                              "reason": "BANNED: api"})
        assert listed.status_code == 201 and listed.json()["action"] == "refuse"
        refused = http.post("/v1/facilities/CHS/entries", json={"plate": "AP1DNY"})
        assert "deny list" in assert_problem(refused, 409)["detail"]
        assert [e["plate"] for e in http.get("/v1/facilities/CHS/plates").json()] == ["AP1DNY"]
        assert http.delete("/v1/facilities/CHS/plates/AP1DNY").json()["removed_by"] == "api:supervisor-client"


def test_lost_ticket_and_free_exits_over_http(served):
    """The exceptions at the exit lane over HTTP, through the same booth path as ``attendant exit --lost`` and
    ``--free``: a lost ticket found by a misread plate and charged the plan's lost-ticket fee; a free exit refused
    to an attendant token (nothing changed) and done by a supervisor's, with its reason audited."""
    server, cli = served
    tokens = make_users_and_tokens(cli)
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    with server.client(tokens["attendant"]) as http:
        lost_car = http.post("/v1/facilities/CHS/entries", json={"plate": "LO5 TKT", "at": an_hour_ago}).json()
        free_car = http.post("/v1/facilities/CHS/entries", json={"plate": "FR3 EEE", "at": an_hour_ago}).json()
        both = http.post("/v1/facilities/CHS/exits", json={"code": lost_car["code"], "lost": "LO5TKT"})
        assert "give code, or lost" in assert_problem(both, 422)["detail"]
        lost = http.post("/v1/facilities/CHS/exits", json={"lost": "L05 TKT", "pay": ["cash"], "tendered": "50",
                                                           "reason": "LOST_TICKET"})
        assert lost.status_code == 200, lost.text
        out = lost.json()
        assert out["lost_ticket"] == {"plate": "L05 TKT", "found_by": "plate"}
        assert out["ticket_no"] == lost_car["ticket_no"] and out["paid"] == out["amount_due"] != "0.00"
        assert any("lost" in line["label"].lower() for line in out["lines"]), out["lines"]
        refused = http.post("/v1/facilities/CHS/exits", json={"code": free_car["code"], "free": True,
                                                              "reason": "GOODWILL: regular"})
        assert "supervisor" in assert_problem(refused, 403)["detail"]
    assert rows(cli, "SELECT status FROM parking_session WHERE ticket_no = ?", int(free_car["ticket_no"])) == \
        [("open",)]
    with server.client(tokens["supervisor"]) as http:
        unknown = http.post("/v1/facilities/CHS/exits", json={"code": free_car["code"], "free": True,
                                                              "reason": "NOPE"})
        assert "NOPE" in assert_problem(unknown, 422)["detail"]
        free = http.post("/v1/facilities/CHS/exits", json={"code": free_car["code"], "free": True,
                                                           "reason": "GOODWILL: regular"})
        assert free.status_code == 200, free.text
        assert free.json()["free_exit"] == {"reason": "GOODWILL: regular"} and free.json()["paid"] == "0.00"
    assert rows(cli, "SELECT status, amount_paid FROM parking_session WHERE ticket_no = ?",
                int(free_car["ticket_no"])) == [("closed", 0)]
    audited = rows(cli, "SELECT action, actor FROM audit_event WHERE action LIKE 'exception.%' ORDER BY id")
    assert audited == [("exception.lost_ticket", "api:attendant-client"),
                       ("exception.free_exit", "api:supervisor-client")]
