"""A run's files between machines: what a run folder holds (a Ray node starts from it), what changed in
the node's copy since it last sent some, and writing what a node sent into the store's machine's run
folder: each folder (checkpoint/, best/) replaced whole and each file renamed into place, so a node that
dies while sending leaves the run folder as it was.

Small files travel as bytes with the call that needs them. A file of CHUNK_BYTES or more (a checkpoint's
weights: 440 MB for BERT-base) travels ahead of that call, chunk by chunk (send_file), into the head's
Inbox: appended to a temp file as each chunk arrives in order, its size and digest checked at the end, only
then renamed to its staged name, from where the call that names it moves it into place. So no process
holds more than a chunk of it, and a chunk lost or changed leaves no file.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path, PurePosixPath

from ...data.shared_texts import texts_digest
from ...training.checkpoints import SwappedFolder

CHECKPOINT = "checkpoint"  # the resumable checkpoint: it travels only with the step the store records for it
STAYS_HERE = ("config.json",)  # the store's machine wrote it; a node never sends it back
PARTIAL_SUFFIXES = (".tmp",)  # a folder or file being written: never sent
CHUNK_BYTES = 8 * 1024 ** 2  # a file this large or larger travels in chunks of this size
INCOMING = "incoming.tmp"  # in a run folder on the head: files sent in chunks, by attempt, until a call names them


@dataclass
class Shipment:
    run_files: dict[str, bytes] = field(default_factory=dict)  # path inside the run folder -> content
    texts: dict[str, bytes] = field(default_factory=dict)  # file name in TOPICBERT_HOME/texts -> content
    streamed: list[str] = field(default_factory=list)  # paths inside the run folder of files sent ahead in chunks

    def __bool__(self) -> bool:
        return bool(self.run_files or self.texts or self.streamed)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(
        part.endswith(PARTIAL_SUFFIXES) for part in p.relative_to(folder).parts))


def read_folder(folder: Path) -> dict[str, bytes]:
    """Every whole file under `folder`, by its path inside it."""
    if not folder.is_dir():
        return {}
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in _files(folder)}


def to_send(run_dir: Path, files: Sequence[Path]) -> Shipment:
    """`files` of `run_dir` as they travel: the small ones' bytes, the others' names (sent in chunks)."""
    shipment = Shipment()
    for file in files:
        name = file.relative_to(run_dir).as_posix()
        if file.stat().st_size >= CHUNK_BYTES:
            shipment.streamed.append(name)
        else:
            shipment.run_files[name] = file.read_bytes()
    return shipment


def run_folder_to_send(run_dir: Path) -> Shipment:
    """Every whole file of a run folder, as it travels to a node starting the run."""
    return to_send(run_dir, _files(run_dir)) if run_dir.is_dir() else Shipment()


def _safe(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or not path.parts or ".." in path.parts:
        raise ValueError(f"a shipped file may not name {name!r}")
    return path


def write_folder(files: Mapping[str, bytes | Path], folder: Path) -> None:
    """Put `files` (read_folder's, or a file already whole here: moved) under `folder`, as they are."""
    for name, content in files.items():
        path = folder / _safe(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            shutil.move(content, path)
        else:
            path.write_bytes(content)


def _write_whole_file(path: Path, content: bytes | Path) -> None:
    if isinstance(content, Path):  # staged whole by the Inbox
        shutil.move(content, path)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def send_file(path: Path, send: Callable[[int, bytes], None]) -> tuple[int, str]:
    """Hand `path` to `send` chunk by chunk (its index, its bytes), the next read only once the last was
    taken; the file's size and SHA-256, for Inbox.finish."""
    digest, size = hashlib.sha256(), 0
    for index, chunk in enumerate(_chunks(path)):
        digest.update(chunk)
        size += len(chunk)
        send(index, chunk)
    return size, digest.hexdigest()


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            yield chunk


def read_chunk(folder: Path, name: str, index: int) -> bytes:
    """Chunk `index` of `folder`'s file `name` as send_file cuts it; empty past its end."""
    with (folder / _safe(name)).open("rb") as file:
        file.seek(index * CHUNK_BYTES)
        return file.read(CHUNK_BYTES)


def size_and_digest(folder: Path, name: str) -> tuple[int, str]:
    """What send_file gives for `folder`'s file `name`, read a chunk at a time."""
    return send_file(folder / _safe(name), lambda index, chunk: None)


def fetch_file(folder: Path, name: str, read: Callable[[int], bytes], digest: Callable[[], tuple[int, str]]) -> None:
    """A file sent the other way (to a node starting a run): `read(index)` chunk after chunk until an empty
    one, into an Inbox under `folder`, where it takes `name` only if it is `digest()`'s size and SHA-256."""
    inbox, index = Inbox(), 0
    while chunk := read(index):
        inbox.add(folder, name, index, chunk)
        index += 1
    inbox.finish(folder, name, *digest())


@dataclass
class _Partial:
    next_index: int
    size: int
    digest: hashlib._Hash


class Inbox:
    """The head's side of files sent in chunks, each under a folder of its attempt's (staging): a chunk is
    appended to the file's temp copy only if it is the next one; at the end the size and SHA-256 the node
    gives must be those of what arrived, and only then does the file take its name. Anything else removes
    the temp copy and is refused: no file is ever staged from a chunk lost, repeated or changed."""

    def __init__(self) -> None:
        self._partial: dict[Path, _Partial] = {}  # a temp copy being written -> what arrived of it so far

    @staticmethod
    def _paths(staging: Path, name: str) -> tuple[Path, Path]:
        target = staging / _safe(name)
        return target, target.with_name(f"{target.name}.part")

    def add(self, staging: Path, name: str, index: int, chunk: bytes) -> None:
        target, part = self._paths(staging, name)
        if index == 0:
            target.unlink(missing_ok=True)  # sent again: the new version replaces the staged one
            part.parent.mkdir(parents=True, exist_ok=True)
            part.write_bytes(b"")
            self._partial[part] = _Partial(0, 0, hashlib.sha256())
        state = self._partial.get(part)
        if state is None or index != state.next_index:
            self._drop(part)
            expected = "the first (0)" if state is None else state.next_index
            raise ValueError(f"chunk {index} of {name} arrived where {expected} was due: the file is dropped")
        with part.open("ab") as file:
            file.write(chunk)
        state.next_index, state.size = index + 1, state.size + len(chunk)
        state.digest.update(chunk)

    def finish(self, staging: Path, name: str, size: int, sha256: str) -> None:
        """All of `name` was sent: staged if it is what the node read (`size` bytes, `sha256`)."""
        target, part = self._paths(staging, name)
        state = self._partial.pop(part, None)
        if state is None or (state.size, state.digest.hexdigest()) != (size, sha256):
            self._drop(part)
            found = "nothing" if state is None else f"{state.size} bytes, SHA-256 {state.digest.hexdigest()}"
            raise ValueError(f"{name} arrived as {found}, not the {size} bytes of SHA-256 {sha256} sent: dropped")
        with part.open("rb") as file:
            os.fsync(file.fileno())  # on the disk before its name says it is whole
        os.replace(part, target)

    @staticmethod
    def staged(staging: Path, name: str) -> Path:
        target = staging / _safe(name)
        if not target.is_file():
            raise ValueError(f"{name} was to be sent ahead in chunks and never arrived whole")
        return target

    def discard(self, staging: Path) -> None:
        """An attempt's staged and half-sent files, when it is over."""
        for part in [part for part in self._partial if staging in part.parents]:
            del self._partial[part]
        shutil.rmtree(staging, ignore_errors=True)

    def _drop(self, part: Path) -> None:
        self._partial.pop(part, None)
        part.unlink(missing_ok=True)


def _checked_text_name(name: str, content: bytes) -> str:
    """The name a shipped list of texts is kept under: its digest as computed here (every run tested on
    those documents shares the file, so a node may not choose what it names)."""
    path = _safe(name)
    try:
        texts = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"the texts sent as {name} are not JSON ({error})") from None
    if not isinstance(texts, list) or not all(isinstance(text, str) for text in texts):
        raise ValueError(f"the texts sent as {name} are not a list of texts")
    if path.suffix != ".json" or path.stem != texts_digest(texts):
        raise ValueError(f"the texts sent as {name} are not what that name says: their digest is "
                         f"{texts_digest(texts)}")
    return name


def receive(shipment: Shipment, run_dir: Path, texts_dir: Path, staging: Path | None = None) -> None:
    """Write what a node sent into the run's folder here (and the shared test texts, each checked against
    the digest that names it; the files it sent ahead in chunks, from `staging`), each part whole; nothing
    is written if any part is refused."""
    texts = {_checked_text_name(name, content): content for name, content in shipment.texts.items()}
    if shipment.streamed and staging is None:
        raise ValueError("files sent in chunks, and nowhere to find them")
    streamed = {name: Inbox.staged(staging, name) for name in shipment.streamed} if staging is not None else {}
    files: dict[str, bytes | Path] = {**shipment.run_files, **streamed}
    entries: dict[str, dict[str, bytes | Path]] = {}
    for name, content in files.items():
        path = _safe(name)
        if path.parts[0] in STAYS_HERE:
            raise ValueError(f"a node may not replace {name}")
        entries.setdefault(path.parts[0], {})[PurePosixPath(*path.parts[1:]).as_posix()] = content
    run_dir.mkdir(parents=True, exist_ok=True)
    for entry, files in entries.items():
        if set(files) == {"."}:  # a file at the top of the run folder
            _write_whole_file(run_dir / entry, files["."])
        else:
            SwappedFolder(run_dir / entry).write(partial(write_folder, files))
    texts_dir.mkdir(parents=True, exist_ok=True)
    for name, content in texts.items():
        target = texts_dir / _safe(name).name
        if not target.exists():  # named by their content: one already here is the same
            _write_whole_file(target, content)


def _signature(path: Path) -> tuple:
    """What tells whether an entry changed: each file's path, size and modification time."""
    # one listing for names and stats: two would pair a file's name with another's size when the run writes
    # a file between them
    files = [(path.name, path)] if path.is_file() else [(p.relative_to(path).as_posix(), p) for p in _files(path)]
    stats = [(name, p.stat()) for name, p in files]
    return tuple((name, s.st_size, s.st_mtime_ns) for name, s in stats)


class Outbox:
    """The node's side: what of its copy of a run folder (and of the test texts) it has sent. What is
    there when it is made came from the store's machine, so it counts as sent."""

    def __init__(self, run_dir: Path, texts_dir: Path) -> None:
        self.run_dir, self.texts_dir = run_dir, texts_dir
        self._sent = self._signatures()

    def _entries(self) -> dict[str, Path]:
        found = {p.name: p for p in self.run_dir.iterdir()} if self.run_dir.is_dir() else {}
        if self.texts_dir.is_dir():
            found.update({f"texts/{p.name}": p for p in self.texts_dir.iterdir()})
        return {key: path for key, path in found.items()
                if path.name not in STAYS_HERE and not path.name.endswith(PARTIAL_SUFFIXES + (".old",))}

    def _signatures(self) -> dict[str, tuple]:
        return {key: _signature(path) for key, path in self._entries().items()}

    def changed(self, with_checkpoint: bool = False, only: Sequence[str] | None = None) -> Shipment:
        """What changed since the last shipment (the entries `only` names, if given); the resumable
        checkpoint only `with_checkpoint`; files of CHUNK_BYTES or more named in `streamed`, for the caller
        to send ahead (send_file). What it returns counts as sent."""
        shipment = Shipment()
        for key, path in self._entries().items():
            if (only is not None and key not in only) or (key == CHECKPOINT and not with_checkpoint):
                continue
            signature = _signature(path)
            if self._sent.get(key) == signature:
                continue
            if key.startswith("texts/"):
                shipment.texts[path.name] = path.read_bytes()
            else:
                files = to_send(self.run_dir, [path] if path.is_file() else _files(path))
                shipment.run_files.update(files.run_files)
                shipment.streamed.extend(files.streamed)
            self._sent[key] = signature
        return shipment
