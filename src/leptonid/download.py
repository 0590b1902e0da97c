"""Checksummed, resumable downloads of the input files (``data: {source: url}``).

:func:`download` fetches a URL into ``<dest>.part`` (resuming an earlier
partial transfer with an HTTP ``Range`` request), logs progress with rate
and ETA, checks the length the server announced and the SHA-256 when one
is given, and only then renames the file to ``dest``. Nothing ever appears
at ``dest`` unless it is complete and verified:

* a wrong checksum deletes the ``.part`` (its bytes are wrong; resuming
  cannot mend them);
* a truncated transfer, a server error or an unreachable host keep the
  ``.part`` of a good partial transfer, so the next attempt resumes it.

Only the standard library is used (``urllib``).
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from leptonid.progress import human_bytes, progress

log = logging.getLogger(__name__)

#: Bytes read from the socket at a time.
BLOCK_BYTES = 1 << 20
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class DownloadError(RuntimeError):
    """A download failed; the message says what was expected and what was seen."""


class ChecksumError(DownloadError):
    """The downloaded bytes do not have the expected SHA-256."""


def part_path(dest: str | Path) -> Path:
    """Where the transfer into ``dest`` is kept until it is complete and verified."""
    dest = Path(dest)
    return dest.with_name(dest.name + ".part")


def _open(url: str, offset: int, timeout: float):  # noqa: ANN202 - an http.client.HTTPResponse
    request = urllib.request.Request(url, headers={"User-Agent": "leptonid-download"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) only, checked by the caller
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:  # the partial file is not a prefix the server knows: start again
            return None
        raise DownloadError(f"{url}: server answered HTTP {err.code} {err.reason}, expected 200 (the file)") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"{url}: cannot reach the server ({reason})") from None


def _transfer(url: str, part: Path, timeout: float, progress_every: float) -> str:
    """Append the rest of ``url`` to ``part`` (all of it when ``part`` is absent); raise if incomplete.

    Returns the SHA-256 of the whole ``part``, hashed while it is written
    (a resumed transfer hashes the bytes already there first).
    """
    offset = part.stat().st_size if part.exists() else 0
    response = _open(url, offset, timeout)
    if response is None:
        log.info("%s: server refused to resume from byte %d; starting again", part.name, offset)
        part.unlink()
        offset = 0
        response = _open(url, 0, timeout)
    with response:
        status = response.status
        if offset and status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {offset}-"):
                raise DownloadError(f"{url}: asked for bytes {offset}- but the server sent {content_range!r}")
            log.info("%s: resuming at byte %d (%s already here)", part.name, offset, human_bytes(offset))
        elif offset:
            log.info("%s: server does not resume (HTTP %d); starting again from byte 0", part.name, status)
            offset = 0
        digest = hashlib.sha256()
        if offset:
            with open(part, "rb") as earlier:
                while chunk := earlier.read(8 * BLOCK_BYTES):
                    digest.update(chunk)
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None else None
        name = part.name.removesuffix(".part")
        with (
            open(part, "ab" if offset else "wb") as out,
            progress(total, name, "B", log, interval=progress_every, initial=offset, unit_scale=True) as bar,
        ):
            try:
                while block := response.read(BLOCK_BYTES):
                    out.write(block)
                    digest.update(block)
                    bar.update(len(block))
            except (OSError, http.client.HTTPException) as err:  # a dropped connection (IncompleteRead, a timeout)
                log.warning("%s: transfer broken after %d bytes (%s)", part.name, bar.n, err)
    received = part.stat().st_size
    if total is not None and received != total:
        raise DownloadError(
            f"{url}: truncated transfer: expected {total} bytes, received {received}; "
            f"the partial file {part} is kept and the next attempt resumes it"
        )
    return digest.hexdigest()


def download(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    *,
    attempts: int = 1,
    timeout: float = 60.0,
    progress_every: float = 10.0,
) -> str:
    """Download ``url`` to ``dest`` and return the file's SHA-256.

    Up to ``attempts`` transfers, each resuming where the last one stopped.
    With ``sha256`` the file must have that checksum; without, the one seen is
    logged (put it in the config to check later downloads).
    """
    if not url.startswith(("http://", "https://")):
        raise DownloadError(f"{url}: only http:// and https:// URLs can be downloaded")
    expected = sha256.lower() if sha256 else None
    if expected is not None and not SHA256_PATTERN.match(expected):
        raise DownloadError(f"{url}: {sha256!r} is not a SHA-256 (64 hexadecimal digits)")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    log.info("downloading %s to %s", url, dest)
    for attempt in range(1, attempts + 1):
        try:
            seen = _transfer(url, part, timeout, progress_every)
            break
        except DownloadError as err:
            if attempt == attempts:
                raise
            log.warning("attempt %d of %d failed: %s; trying again", attempt, attempts, err)
    size = part.stat().st_size
    if expected is not None and seen != expected:
        part.unlink()
        raise ChecksumError(
            f"{url}: checksum mismatch: expected sha256 {expected}, got {seen} ({size} bytes); "
            f"nothing was kept at {dest}"
        )
    if expected is None:
        log.info("%s: sha256 %s (no checksum configured: nothing to compare with)", dest.name, seen)
    else:
        log.info("%s: sha256 %s as expected", dest.name, seen)
    os.replace(part, dest)
    log.info("%s: %s in place", dest, human_bytes(size))
    return seen
