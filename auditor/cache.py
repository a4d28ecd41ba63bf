"""An on-disk cache of parsed files, like ruff's: it can be deleted at any time.

What a file parses to (its documents as plain data, their position tables, and the load problems
found while parsing) depends only on its text, on the parser and on the limits. Entries are keyed
by a hash of exactly that, so a changed file is simply a new key and an entry is never stale.

* Layout: ``DIR/.gitignore`` (``*``, so git never sees the folder), ``DIR/CACHEDIR.TAG``, and
  ``DIR/parse-<tag>/<pack>``, where ``<tag>`` names the tool version, the loader's own source, the
  Python version and the entry format (another version of the tool uses another folder), and
  ``<pack>`` a hash of one folder of audited files: like ruff's cache, one file per folder, with an
  entry per file name holding the key of the text parsed and the result. (One file per parsed file
  made a cold run pay for creating thousands of files.)
* Packs are written (by a background thread, while the next files are parsed or the rules run) to
  a temporary file in the same folder and renamed into place, so a reader sees a whole pack or
  none; two runs writing the same pack at once each write a valid one (the last one stays; an entry
  it lacks is parsed again next time).
* A pack starts with a magic string and a BLAKE2b digest of its payload; a truncated, corrupted or
  foreign file fails the check and is treated as empty (then rewritten). The payload is ``marshal``
  data, and an entry's data is checked to be plain ``dict``/``list``/``str``/``int``/``float``/
  ``bool``/``None`` values before use: nothing in the cache is ever executed.
* Every error of the cache itself (a folder deleted mid-run, a full disk, a read-only tree) turns
  the cache off for the rest of the run; the audit goes on without it.
* Rendered charts and kustomizations (:mod:`auditor.render`) are kept too, one file
  ``render-<key>`` each, where ``<key>`` is a digest of every byte the rendering tool would read
  (see ``auditor.render._inputs_key``), the tool's binary and the renderer's source; the entry holds
  the output text and where each object came from, behind the same magic and digest as a pack.
  What that output parses to is kept beside it, one file ``text-<key>`` per text, where ``<key>`` is
  the key of the text itself (as for a file: its content, the parser and the limits); the entry is
  checked like a file's.
* Bounded: a pack keeps one entry per file still in its folder; after a run, packs it did not use
  are removed (oldest first) once there are more than twice the packs the run used (at least
  :data:`MIN_KEEP`); folders of other versions of the tool are removed once they have not been
  written to for :data:`STALE_VERSION_S`.
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
MIN_KEEP = 1_000
STALE_VERSION_S = 3_600.0
_MARSHAL_VERSION = 4
_PLAIN = (str, int, float, bool, type(None))
_GITIGNORE_TEXT = "# Created by calico-audit: a cache folder, safe to delete\n*\n"
_TAG_TEXT = "Signature: 8a477f597d28d172789f06886806bc55\n# This is a cache folder of calico-audit.\n"

#: A parsed file: ``(documents, problems)`` with documents as ``(index, data, positions)`` and
#: problems as ``(line, column, end_line, end_column, message, code, hint)``.
Entry = tuple[list[tuple[int, Any, array]], list[tuple[int, int, int, int, str, str, str]]]
#: The entries of one folder's pack: file name -> (key of what was parsed, the entry's marshal data).
Pack = dict[str, tuple[str, bytes]]
#: A rendered chart or kustomization: the output text, and (kind, namespace, name, source file) per object.
Rendered = tuple[str, list[tuple[str, str, str, str]]]

OPEN_PACKS = 16  #: folders whose pack is kept open while the files are read (a walk revisits few)


def _loader_digest() -> str:
    """What parses a file: the tool's version, the loader's source and this Python's version."""
    from auditor import __version__

    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{__version__}\0{FORMAT}\0{sys.version}\0{_MARSHAL_VERSION}\0".encode())
    try:
        folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "load")
        for name in sorted(n for n in os.listdir(folder) if n.endswith(".py")):
            with open(os.path.join(folder, name), "rb") as fh:
                digest.update(fh.read())
    except (OSError, TypeError):  # a frozen or zipped install: the version alone
        pass
    return digest.hexdigest()


class _Group:
    """The pack of one folder while its files are read: what it held, and what changed."""

    __slots__ = ("dirty", "name", "pack")

    def __init__(self, name: str, pack: Pack) -> None:
        self.name = name
        self.pack = pack
        self.dirty = False


class ParseCache:
    """Parsed files under ``root``; every method is safe to call after a failure (it does nothing).

    Like ruff's cache, entries are grouped per folder: one file (a *pack*) per folder of audited
    files, holding for each file name the key of the text it parsed and the result. A changed file
    replaces its own entry; a pack is rewritten only when one of its entries changed.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        self.folder = os.path.join(self.root, f"parse-{_loader_digest()}")
        self.enabled = True
        self.used: set[str] = set()  # pack names read or written by this run
        self.hits = 0
        self.misses = 0
        self.writes = 0  # packs written
        self._ready = False
        self._open: dict[str, _Group] = {}  # folder -> its open pack (insertion order: least recent first)
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

    @staticmethod
    def pack_name(folder: str) -> str:
        return hashlib.blake2b(os.path.abspath(folder).encode("utf-8", "surrogateescape"), digest_size=16).hexdigest()

    # --- reading -----------------------------------------------------------------------------

    def get(self, path: str, key: str) -> Entry | None:
        """The entry of file ``path`` if it was parsed from the text of ``key`` before."""
        if not self.enabled:
            return None
        group = self._group(os.path.dirname(path))
        found = group.pack.get(os.path.basename(path))
        return self._counted(decode_entry(found[1]) if found is not None and found[0] == key else None)

    def _counted(self, entry: Entry | None) -> Entry | None:
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def _encoded(self, entry: Entry) -> bytes | None:
        """The entry's bytes to store, or None (the cache is off, or the entry is not plain data)."""
        if not self.enabled:
            return None
        try:
            return encode_entry(entry)
        except ValueError:  # not plain data (cannot happen for parsed YAML): just do not cache it
            return None

    def _group(self, folder: str) -> _Group:
        group = self._open.pop(folder, None)
        if group is None:
            name = self.pack_name(folder)
            self.used.add(name)
            group = _Group(name, self._read_pack(name))
            if len(self._open) >= OPEN_PACKS:
                self._close(next(iter(self._open)))
        self._open[folder] = group  # (most recent last)
        return group

    def _read_pack(self, name: str) -> Pack:
        try:
            with open(os.path.join(self.folder, name), "rb") as fh:
                blob = fh.read()
        except OSError:
            return {}
        return decode_pack(blob) or {}

    # --- writing -----------------------------------------------------------------------------

    def put(self, path: str, key: str, entry: Entry) -> None:
        """Record what file ``path`` parsed to; its folder's pack is written once the folder is done."""
        blob = self._encoded(entry)
        if blob is None:
            return
        group = self._group(os.path.dirname(path))
        group.pack[os.path.basename(path)] = (key, blob)
        group.dirty = True

    def _close(self, folder: str) -> None:
        group = self._open.pop(folder)
        if not group.dirty:
            return
        # Entries of files that are gone would stay forever: keep only the files still there.
        pack = {name: value for name, value in group.pack.items() if os.path.exists(os.path.join(folder, name))}
        self._enqueue(group.name, encode_pack(pack))

    def _enqueue(self, name: str, blob: bytes) -> None:
        if self._queue is None:
            self._queue = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._drain, name="calico-audit-cache", daemon=True)
            self._writer.start()
        self._queue.put((name, blob))  # written by a thread: file creation is slow and releases the GIL

    def flush(self, wait: bool = True) -> None:
        """Write every changed pack; with ``wait``, until it is written (or the cache turned itself off)."""
        for folder in list(self._open):
            self._close(folder)
        if wait and self._queue is not None and self._writer is not None:
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

    def _store(self, name: str, blob: bytes) -> None:
        for attempt in (0, 1):
            try:
                if not self._ready:
                    self._prepare()
                self._write(os.path.join(self.folder, name), blob)
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

    # --- texts that are not files (rendered output) ------------------------------------------------

    def get_text(self, key: str) -> Entry | None:
        """What a text that is no file on disk (a chart's or kustomization's rendered output) parsed to,
        filed under its key alone (see :meth:`key`): the rendered output comes from the cache on a
        warm run, and so does its parse."""
        if not self.enabled:
            return None
        blob = self._read_file(f"text-{key}")
        return self._counted(decode_text(blob) if blob is not None else None)

    def put_text(self, key: str, entry: Entry) -> None:
        """Record what the text of ``key`` parsed to (written with the packs)."""
        blob = self._encoded(entry)
        if blob is None:
            return
        name = f"text-{key}"
        self.used.add(name)
        self._enqueue(name, _sealed((FORMAT, blob)))

    # --- rendered output (auditor.render) --------------------------------------------------------

    def get_rendered(self, key: str) -> Rendered | None:
        """What a Helm chart or kustomization rendered to before, from inputs whose digest is ``key``."""
        if not self.enabled:
            return None
        blob = self._read_file(f"render-{key}")
        return decode_rendered(blob) if blob is not None else None

    def _read_file(self, name: str) -> bytes | None:
        """The bytes of the cache's own file ``name`` (marked used: pruning keeps it), None when unreadable."""
        self.used.add(name)
        try:
            with open(os.path.join(self.folder, name), "rb") as fh:
                return fh.read()
        except OSError:
            return None

    def has_rendered(self, key: str) -> bool:
        """Whether an entry for ``key`` is there (it may still turn out damaged when read)."""
        return self.enabled and os.path.exists(os.path.join(self.folder, f"render-{key}"))

    def put_rendered(self, key: str, value: Rendered) -> None:
        """Record what rendering inputs of digest ``key`` gave (written with the packs)."""
        if not self.enabled:
            return
        name = f"render-{key}"
        self.used.add(name)
        self._enqueue(name, encode_rendered(value))

    # --- bounding ------------------------------------------------------------------------------

    def prune(self, keep_at_least: int = MIN_KEEP) -> int:
        """Write what is pending, then remove packs this run did not use when there are too many
        (oldest first), and the folders of other versions of the tool.

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
# Packs (magic, digest, marshal payload) and entries (marshal of plain data, checked)
# --------------------------------------------------------------------------------------------


def encode_entry(entry: Entry) -> bytes:
    docs, problems = entry
    return marshal.dumps(
        (FORMAT, [(index, data, pos.tobytes()) for index, data, pos in docs], [tuple(p) for p in problems]),
        _MARSHAL_VERSION,
    )


def _sealed(value: object) -> bytes:
    """``value`` as marshal data behind the magic string and a digest of it."""
    payload = marshal.dumps(value, _MARSHAL_VERSION)
    return MAGIC + hashlib.blake2b(payload, digest_size=DIGEST_SIZE).digest() + payload


def _unsealed(blob: bytes) -> Any:
    """The value :func:`_sealed` wrote, or None when ``blob`` is not whole (magic, digest, marshal)."""
    head = len(MAGIC) + DIGEST_SIZE
    if len(blob) < head or not blob.startswith(MAGIC):
        return None
    payload = memoryview(blob)[head:]
    if hashlib.blake2b(payload, digest_size=DIGEST_SIZE).digest() != blob[len(MAGIC) : head]:
        return None
    try:
        return marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None


def _unsealed_fields(blob: bytes, *kinds: type) -> tuple[Any, ...] | None:
    """The fields after the format of what :func:`_sealed` wrote, when ``blob`` is whole, of this format,
    and the fields are of exactly these types (else None)."""
    value = _unsealed(blob)
    if type(value) is not tuple or len(value) != len(kinds) + 1 or value[0] != FORMAT:
        return None
    fields = value[1:]
    if any(type(field) is not kind for field, kind in zip(fields, kinds, strict=True)):
        return None
    return fields


def encode_pack(pack: Pack) -> bytes:
    return _sealed((FORMAT, pack))


def decode_pack(blob: bytes) -> Pack | None:
    """The pack in ``blob``, or None when it is not a whole, well-formed pack of this format."""
    fields = _unsealed_fields(blob, dict)
    if fields is None:
        return None
    (pack,) = fields
    for name, value in pack.items():
        if type(name) is not str or type(value) is not tuple or len(value) != 2:
            return None
        if type(value[0]) is not str or type(value[1]) is not bytes:
            return None
    return pack


def encode_rendered(value: Rendered) -> bytes:
    text, origins = value
    return _sealed((FORMAT, text, [tuple(o) for o in origins]))


def decode_rendered(blob: bytes) -> Rendered | None:
    """The rendered output in ``blob``, or None when it is not a whole, well-formed one."""
    fields = _unsealed_fields(blob, str, list)
    if fields is None:
        return None
    text, origins = fields
    for origin in origins:
        if type(origin) is not tuple or len(origin) != 4 or not all(type(v) is str for v in origin):
            return None
    return text, origins


def decode_text(blob: bytes) -> Entry | None:
    """The entry of a parsed text in ``blob`` (:meth:`ParseCache.put_text`), or None when it is not a whole,
    well-formed one."""
    fields = _unsealed_fields(blob, bytes)
    return decode_entry(fields[0]) if fields is not None else None


def decode_entry(blob: bytes) -> Entry | None:
    """The entry in ``blob``, or None when it is not a well-formed entry of plain data."""
    try:
        value = marshal.loads(blob)
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

