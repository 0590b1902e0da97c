"""Downloads from an HTTP server on 127.0.0.1 that the test starts and stops.

The server serves a good file (with ``Range`` support), a body cut short, an
HTTP 500 and a file that breaks off once and then resumes; a closed port
stands for an unreachable host. Each failure leaves nothing at the
destination and says what was expected and what was seen.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runner import run_workflow
from leptonid.download import ChecksumError, DownloadError, download, part_path

BODY = bytes(range(256)) * 4096  # 1 MiB
GOOD_SHA = hashlib.sha256(BODY).hexdigest()
HALF = len(BODY) // 2


class Handler(BaseHTTPRequestHandler):
    """Routes: /good.h5, /truncated.h5, /error.h5, /flaky.h5 (cut short on its first request only)."""

    requests: list[tuple[str, str | None]] = []
    flaky_served = 0
    extra: dict[str, bytes] = {}  # more files served whole, by path

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send_file(self, start: int) -> None:
        if start:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(BODY) - 1}/{len(BODY)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(BODY) - start))
        self.end_headers()
        self.wfile.write(BODY[start:])

    def _send_cut(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY[:HALF])
        self.wfile.flush()
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        range_header = self.headers.get("Range")
        type(self).requests.append((self.path, range_header))
        start = int(range_header.removeprefix("bytes=").rstrip("-")) if range_header else 0
        if self.path == "/good.h5":
            self._send_file(start)
        elif self.path == "/truncated.h5":
            self._send_cut()
        elif self.path == "/flaky.h5":
            type(self).flaky_served += 1
            if type(self).flaky_served == 1:
                self._send_cut()
            else:
                self._send_file(start)
        elif self.path in type(self).extra:
            body = type(self).extra[self.path]
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path == "/error.h5":
            self.send_error(500, "Internal Server Error")
        else:
            self.send_error(404, "Not Found")


@pytest.fixture
def server() -> Iterator[str]:
    """Base URL of a fresh server on 127.0.0.1 (stopped after the test)."""
    Handler.requests = []
    Handler.flaky_served = 0
    Handler.extra = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A port on 127.0.0.1 with nobody listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_good_file_with_checksum(server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dest = tmp_path / "data.h5"
    with caplog.at_level(logging.INFO, logger="leptonid.download"):
        seen = download(f"{server}/good.h5", dest, sha256=GOOD_SHA, progress_every=0.0)
    assert seen == GOOD_SHA and dest.read_bytes() == BODY
    assert leftovers(tmp_path) == ["data.h5"]
    text = caplog.text
    # tqdm's bar as log lines (count, rate, ETA), then the summary line
    assert "data.h5: 100%|" in text and "1.00M/1.00M [" in text and "B/s]" in text
    assert "data.h5: 1.0 MiB in " in text and "MiB/s)" in text
    assert f"sha256 {GOOD_SHA} as expected" in text


def test_without_checksum_the_one_seen_is_logged(server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="leptonid.download"):
        assert download(f"{server}/good.h5", tmp_path / "data.h5") == GOOD_SHA
    assert f"data.h5: sha256 {GOOD_SHA} (no checksum configured" in caplog.text


def test_wrong_checksum_leaves_nothing(server: str, tmp_path: Path) -> None:
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as err:
        download(f"{server}/good.h5", tmp_path / "data.h5", sha256=wrong)
    assert str(err.value) == (
        f"{server}/good.h5: checksum mismatch: expected sha256 {wrong}, got {GOOD_SHA} ({len(BODY)} bytes); "
        f"nothing was kept at {tmp_path / 'data.h5'}"
    )
    assert leftovers(tmp_path) == []


def test_truncated_body_is_not_moved_into_place(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "data.h5"
    with pytest.raises(DownloadError) as err:
        download(f"{server}/truncated.h5", dest, sha256=GOOD_SHA)
    assert f"truncated transfer: expected {len(BODY)} bytes, received {HALF}" in str(err.value)
    assert not dest.exists()
    assert leftovers(tmp_path) == ["data.h5.part"]  # kept for the next attempt to resume


def test_server_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError) as err:
        download(f"{server}/error.h5", tmp_path / "data.h5")
    assert str(err.value) == f"{server}/error.h5: server answered HTTP 500 Internal Server Error, expected 200 (the file)"
    assert leftovers(tmp_path) == []


def test_connection_refused(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/data.h5"
    with pytest.raises(DownloadError) as err:
        download(url, tmp_path / "data.h5", attempts=2)
    assert str(err.value).startswith(f"{url}: cannot reach the server (")
    assert "refused" in str(err.value).lower()
    assert leftovers(tmp_path) == []


def test_resumed_transfer(server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The first transfer breaks off half-way; the second asks for the rest only, and the result is verified."""
    dest = tmp_path / "data.h5"
    with caplog.at_level(logging.INFO, logger="leptonid.download"):
        assert download(f"{server}/flaky.h5", dest, sha256=GOOD_SHA, attempts=2) == GOOD_SHA
    assert dest.read_bytes() == BODY and not part_path(dest).exists()
    assert Handler.requests == [("/flaky.h5", None), ("/flaky.h5", f"bytes={HALF}-")]
    assert f"resuming at byte {HALF}" in caplog.text


def test_partial_file_from_an_earlier_run_is_resumed(server: str, tmp_path: Path) -> None:
    dest = tmp_path / "data.h5"
    part_path(dest).write_bytes(BODY[:1000])
    download(f"{server}/good.h5", dest, sha256=GOOD_SHA)
    assert dest.read_bytes() == BODY
    assert Handler.requests == [("/good.h5", "bytes=1000-")]


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="only http:// and https://"):
        download("ftp://example.org/data.h5", tmp_path / "data.h5")
    with pytest.raises(DownloadError, match="is not a SHA-256"):
        download("http://127.0.0.1:1/data.h5", tmp_path / "data.h5", sha256="abc")
    assert leftovers(tmp_path) == []


@pytest.mark.workflow
@pytest.mark.slow
def test_download_rule_feeds_validate_data(server: str, tiny_h5: Path, tmp_path: Path) -> None:
    """data: {source: url}: the download rule fetches the file, checks it, and validate_data reads it."""
    body = tiny_h5.read_bytes()
    Handler.extra = {"/data.h5": body}
    sha = hashlib.sha256(body).hexdigest()
    work = tmp_path / "run"
    data = {"source": "url", "url": f"{server}/data.h5", "sha256": sha, "download_dir": "downloads"}
    run_workflow(work, {"data": data}, targets=["results/data/inventory.md"])
    assert (work / "downloads/data.h5").read_bytes() == body
    assert "honours the data contract" in (work / "results/data/inventory.md").read_text()
    log = (work / "logs/download/data.log").read_text()
    assert f"sha256 {sha} as expected" in log and "data.h5: 100%|" in log and "data.h5: 634.4 KiB in" in log
    assert (work / "benchmarks/download/data.tsv").is_file()
    # another checksum in the config: the download reruns, fails, and leaves no file behind
    data["sha256"] = "f" * 64
    proc = run_workflow(work, {"data": data}, targets=["results/data/inventory.md"], check=False)
    assert proc.returncode != 0
    assert f"checksum mismatch: expected sha256 {'f' * 64}, got {sha}" in proc.stdout + proc.stderr
    assert not (work / "downloads/data.h5").exists() and not (work / "downloads/data.h5.part").exists()
