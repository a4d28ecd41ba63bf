"""An on-disk cache of parsed files, like ruff's: it can be deleted at any time.

What a file parses to (its documents as plain data, their position tables, and the load problems
found while parsing) depends only on its text, on the parser and on the limits. Entries are keyed
by a hash of exactly that, so a changed file is simply a new key and an entry is never stale.

* Layout: ``DIR/.gitignore`` (``*``, so git never sees the folder), ``DIR/CACHEDIR.TAG``, and
  ``DIR/parse-<tag>/<key>``, where ``<tag>`` names the tool version, the loader's own source, the
  Python version and the entry format: another version of the tool uses another folder.
* Entries are written (by a background thread, while the next files are parsed) to a temporary
  file in the same folder and renamed into place, so a reader sees a whole entry or none; two runs
  writing the same key write the same bytes.
* An entry starts with a magic string and a BLAKE2b digest of its payload; a truncated, corrupted or
  foreign file fails the check and is treated as a miss (then rewritten). The payload is
  ``marshal`` data checked to be plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None``
  values before use: nothing in an entry is ever executed.
* Every error of the cache itself (a folder deleted mid-run, a full disk, a read-only tree) turns
  the cache off for the rest of the run; the audit goes on without it.
* Bounded: after a run, entries not used by it are removed (oldest first) once the folder holds
  more than twice the entries the run used (at least :data:`MIN_KEEP`); folders of other versions
  of the tool are removed once they have not been written to for :data:`STALE_VERSION_S`.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import queue
import sys
import tempfile
import threading
import time
from array import array
from typing import Any

FORMAT = 1  #: bump when the entry layout changes
DEFAULT_DIR = ".calico-audit-cache"
MAGIC = b"calico-audit-cache\x00"
DIGEST_SIZE = 16
MIN_KEEP = 2_000
STALE_VERSION_S = 3_600.0
_MARSHAL_VERSION = 4
_PLAIN = (str, int, float, bool, type(None))
_GITIGNORE_TEXT = "# Created by calico-audit: a cache folder, safe to delete\n*\n"
_TAG_TEXT = "Signature: 8a477f597d28d172789f06886806bc55\n# This is a cache folder of calico-audit.\n"

#: A parsed file: ``(documents, problems)`` with documents as ``(index, data, positions)`` and
#: problems as ``(line, column, end_line, end_column, message, code, hint)``.
Entry = tuple[list[tuple[int, Any, array]], list[tuple[int, int, int, int, str, str, str]]]


def _loader_digest() -> str:
    """What parses a file: the tool's version, the loader's source and this Python's version."""
    from auditor import __version__, loader

    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{__version__}\0{FORMAT}\0{sys.version}\0{_MARSHAL_VERSION}\0".encode())
    try:
        with open(loader.__file__, "rb") as fh:
            digest.update(fh.read())
    except (OSError, TypeError):  # a frozen or zipped install: the version alone
        pass
    return digest.hexdigest()


class ParseCache:
    """Parsed files under ``root``; every method is safe to call after a failure (it does nothing)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.folder = os.path.join(self.root, f"parse-{_loader_digest()}")
        self.enabled = True
        self.used: set[str] = set()
        self.hits = 0
        self.misses = 0
        self.writes = 0
        self._ready = False
        self._queue: queue.SimpleQueue[tuple[str, bytes] | None] | None = None
        self._writer: threading.Thread | None = None

    # --- keys --------------------------------------------------------------------------------

    @staticmethod
    def key(text: str, *context: object) -> str:
        """The key of a text parsed in ``context`` (the parser kind, the limits, anything else that matters)."""
        digest = hashlib.blake2b(digest_size=20)
        digest.update(repr(context).encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
        digest.update(text.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    # --- reading -----------------------------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        if not self.enabled:
            return None
        self.used.add(key)
        try:
            with open(os.path.join(self.folder, key), "rb") as fh:
                blob = fh.read()
        except OSError:
            self.misses += 1
            return None
        entry = decode(blob)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    # --- writing -----------------------------------------------------------------------------

    def put(self, key: str, entry: Entry) -> None:
        """Store ``entry`` (written by a background thread: file creation is slow and releases the GIL)."""
        if not self.enabled:
            return
        self.used.add(key)
        try:
            blob = encode(entry)
        except ValueError:  # not plain data (cannot happen for parsed YAML): just do not cache it
            return
        if self._queue is None:
            self._queue = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._drain, name="calico-audit-cache", daemon=True)
            self._writer.start()
        self._queue.put((key, blob))

    def flush(self) -> None:
        """Wait until every entry given to :meth:`put` is written (or the cache turned itself off)."""
        if self._queue is not None and self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._queue = self._writer = None

    def _drain(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self.enabled:
                self._store(*item)

    def _store(self, key: str, blob: bytes) -> None:
        for attempt in (0, 1):
            try:
                if not self._ready:
                    self._prepare()
                self._write(os.path.join(self.folder, key), blob)
                self.writes += 1
                return
            except OSError:
                if attempt:
                    self.enabled = False  # a read-only tree, a full disk...: go on without the cache
                self._ready = False  # (the folder may have been deleted mid-run: make it again once)

    def _prepare(self) -> None:
        os.makedirs(self.folder, exist_ok=True)
        for name, text in ((".gitignore", _GITIGNORE_TEXT), ("CACHEDIR.TAG", _TAG_TEXT)):
            path = os.path.join(self.root, name)
            if not os.path.exists(path):
                self._write(path, text.encode())
        self._ready = True

    def _write(self, path: str, blob: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(blob)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    # --- bounding ------------------------------------------------------------------------------

    def prune(self, keep_at_least: int = MIN_KEEP) -> int:
        """Remove entries this run did not use when there are too many, and other versions' folders.

        Returns the number of files removed. Never raises: another run may be pruning too.
        """
        self.flush()
        if not self.enabled:
            return 0
        removed = 0
        now = time.time()
        try:
            siblings = list(os.scandir(self.root))
        except OSError:
            return 0
        for entry in siblings:
            if entry.is_dir(follow_symlinks=False) and entry.name.startswith("parse-") and entry.path != self.folder:
                try:
                    if now - entry.stat().st_mtime > STALE_VERSION_S:
                        removed += _remove_tree(entry.path)
                except OSError:
                    pass
        limit = max(keep_at_least, 2 * len(self.used))
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return removed
        if len(entries) <= limit:
            return removed
        stale: list[tuple[float, str]] = []
        for entry in entries:
            if entry.name in self.used:
                continue
            try:
                mtime = entry.stat().st_mtime
            except OSError:
                continue
            if entry.name.startswith(".tmp-") and now - mtime < STALE_VERSION_S:
                continue  # (another run may be writing it right now)
            stale.append((mtime, entry.path))
        stale.sort()
        for _, path in stale[: len(entries) - limit // 2]:
            try:
                os.unlink(path)
                removed += 1
            except OSError:
                pass
        return removed


def _remove_tree(path: str) -> int:
    removed = 0
    try:
        for entry in os.scandir(path):
            try:
                os.unlink(entry.path)
                removed += 1
            except OSError:
                pass
        os.rmdir(path)
    except OSError:
        pass
    return removed


# --------------------------------------------------------------------------------------------
# Entries: magic, digest, marshal payload of plain data
# --------------------------------------------------------------------------------------------


def encode(entry: Entry) -> bytes:
    docs, problems = entry
    payload = marshal.dumps(
        (FORMAT, [(index, data, pos.tobytes()) for index, data, pos in docs], [tuple(p) for p in problems]),
        _MARSHAL_VERSION,
    )
    return MAGIC + hashlib.blake2b(payload, digest_size=DIGEST_SIZE).digest() + payload


def decode(blob: bytes) -> Entry | None:
    """The entry in ``blob``, or None when it is not a whole, well-formed entry of this format."""
    head = len(MAGIC) + DIGEST_SIZE
    if len(blob) < head or not blob.startswith(MAGIC):
        return None
    payload = memoryview(blob)[head:]
    if hashlib.blake2b(payload, digest_size=DIGEST_SIZE).digest() != blob[len(MAGIC) : head]:
        return None
    try:
        value = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None
    try:
        fmt, raw_docs, raw_problems = value
        if fmt != FORMAT or type(raw_docs) is not list or type(raw_problems) is not list:
            return None
        docs: list[tuple[int, Any, array]] = []
        for index, data, pos_bytes in raw_docs:
            if type(index) is not int or type(pos_bytes) is not bytes or len(pos_bytes) % 24 or not _plain(data):
                return None
            pos = array("q")
            pos.frombytes(pos_bytes)
            docs.append((index, data, pos))
        problems = []
        for problem in raw_problems:
            if type(problem) is not tuple or len(problem) != 7:
                return None
            if not all(type(v) is int for v in problem[:4]) or not all(type(v) is str for v in problem[4:]):
                return None
            problems.append(problem)
    except (TypeError, ValueError):
        return None
    return docs, problems


def _plain(data: Any) -> bool:
    """True when ``data`` holds only what the loader produces: dicts with str keys, lists, scalars."""
    stack = [data]
    seen: set[int] = set()
    pop, push = stack.pop, stack.extend
    while stack:
        value = pop()
        kind = type(value)
        if kind is dict:
            if id(value) in seen:
                continue
            seen.add(id(value))
            for key in value:
                if type(key) is not str:
                    return False
            push(value.values())
        elif kind is list:
            if id(value) in seen:
                continue
            seen.add(id(value))
            push(value)
        elif kind not in _PLAIN:
            return False
    return True

