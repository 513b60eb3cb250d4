"""Connections and bodies are bounded on a real `refbp serve`, driven by raw sockets: a socket
that sends nothing, or not its headers, is closed after --header-seconds; a body that does not
arrive in --body-seconds is 408; `Expect: 100-continue` with a body over the limit gets 413, never
"100 Continue"; a client gone mid-body is one line in the log, no traceback; a Host not of this
machine is 400; validation errors are one line."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from service_server import AUTH, service_process

ARGUMENTS = ("--cases", "cases/seed", "--header-seconds", "1", "--body-seconds", "2", "--max-body-mb", "1")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("connections")
    with service_process(folder, *ARGUMENTS) as (base, _process):
        yield base, folder / "serve.log"


def connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=15)
    return sock


def answer_of(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (b"" if it closes at once)."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def closed_within(sock: socket.socket, seconds: float) -> bool:
    start = time.monotonic()
    answer_of(sock)
    return time.monotonic() - start < seconds


def request(path: str, headers: dict, body: bytes = b"", method: str = "POST") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode() + body


def test_a_socket_that_sends_nothing_or_half_its_headers_is_closed(server):
    base, _log = server
    idle, slow = connect(base), connect(base)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert closed_within(idle, 10) and closed_within(slow, 10)
    assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200


def test_a_body_too_slow_is_408(server):
    base, _log = server
    sock = connect(base)
    sock.sendall(
        request(
            "/v1/verify",
            {"Host": "127.0.0.1", "Content-Type": "application/json", "Content-Length": "1000", **AUTH},
            b'{"format": ',
        )
    )
    assert answer_of(sock).startswith(b"HTTP/1.1 408")


def test_expect_100_continue_over_the_limit_is_413_at_once(server):
    base, _log = server
    sock = connect(base)
    sock.sendall(
        request(
            "/v1/verify",
            {
                "Host": "127.0.0.1",
                "Content-Type": "application/json",
                "Content-Length": str(100 << 20),
                "Expect": "100-continue",
                **AUTH,
            },
        )
    )
    answer = answer_of(sock)
    assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer, answer[:200]


def test_a_client_gone_mid_body_is_one_line_in_the_log(server):
    base, log = server
    for _ in range(3):
        sock = connect(base)
        sock.sendall(
            request(
                "/v1/verify",
                {"Host": "127.0.0.1", "Content-Type": "application/json", "Content-Length": "100000", **AUTH},
                b'{"format": "re',
            )
        )
        sock.close()
    deadline = time.monotonic() + 20
    while log.read_text().count("closed the connection") < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    text = log.read_text()
    assert text.count("closed the connection") == 3 and "Traceback" not in text, text[-2000:]


@pytest.mark.parametrize(
    "host, status",
    [
        ("evil.example", 400),
        ("localhost:8000", 200),
        ("127.0.0.1", 200),
        ("[::1]:8000", 200),
        ("127.0.0.1.evil.example", 400),
    ],
)
def test_only_this_machines_host_names_are_answered(server, host, status):
    base, _log = server
    assert httpx.get(f"{base}/healthz", headers={"Host": host}, timeout=10).status_code == status


def test_validation_errors_are_one_line(server):
    base, _log = server
    answer = httpx.get(f"{base}/v1/runs", params={"limit": "many"}, timeout=10)
    assert answer.status_code == 422 and isinstance(answer.json()["detail"], str)
    assert answer.json()["detail"].startswith("query limit:")
