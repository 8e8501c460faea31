"""Hashing evidence in one read of the data, on two cores.

Every file gets SHA-256 (the court standard) and BLAKE3 (the second, independent hash: issue 3
allows SHA-512 or BLAKE3; BLAKE3 runs at about 2.5 GB/s on one core here, SHA-512 at about
0.5 GB/s without hardware support). SHA-512, and MD5 and SHA-1 for legacy tools, are computed only
on request (`OPTIONAL`).

`hash_stream` reads its source on the calling thread into a ring of reused buffers (`readinto`
for a file; copies for an iterable of chunks, which also merges small chunks such as an HTTP
body's) and hands each buffer to worker threads: the hashes split in two groups of about equal
cost (SHA-256 alone on one, BLAKE3 and any optional hash on the other), and the `sink` (the
store's write) on a third, since a direct write mostly waits for the disk. hashlib, blake3,
`readinto` and `os.write` release the GIL on large buffers, so the reader and the workers really
run at once. A buffer is refilled only after every worker is done with it; nothing beyond the ring
(`RING` x `CHUNK_SIZE`, anonymous page-aligned mappings) is held in memory. A source of a single
chunk is hashed on the calling thread (no threads for small files).
"""

from __future__ import annotations

import hashlib
import mmap
import queue
import threading
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Protocol, runtime_checkable

import blake3

CHUNK_SIZE = 1 << 20  # 1 MiB: one buffer of the ring
RING = 8  # buffers in flight: the reader fills one while the workers hash or write others

SHA256 = "sha256"
BLAKE3 = "blake3"
ALWAYS = (SHA256, BLAKE3)  # computed on every ingest and recomputed by every verify
OPTIONAL = ("sha512", "md5", "sha1")  # on request; md5 and sha1 for legacy tools only
LEGACY = frozenset({"md5", "sha1"})
KNOWN = (*ALWAYS, *OPTIONAL)
HEX_LENGTHS = {"sha256": 64, "blake3": 64, "sha512": 128, "md5": 32, "sha1": 40}
LABELS = {"sha256": "SHA-256", "blake3": "BLAKE3", "sha512": "SHA-512", "md5": "MD5",
          "sha1": "SHA-1"}
# Seconds per GiB on one core of the reference machine (hashlib with SHA-NI, blake3 without
# threads); only their proportions matter, to share the work between the two workers.
_COST = {"sha256": 0.72, "blake3": 0.37, "sha512": 1.64, "md5": 1.5, "sha1": 0.6}

Buffer = bytes | bytearray | memoryview


@runtime_checkable
class Reader(Protocol):
    """A binary file or stream: `readinto` fills the buffer given and returns the byte count
    (0 at the end)."""

    def readinto(self, buffer: bytearray | memoryview, /) -> int | None: ...


Source = Iterable[Buffer] | Reader


class Hasher(Protocol):
    def update(self, data: Buffer, /) -> object: ...

    def hexdigest(self) -> str: ...


def new_hasher(name: str) -> Hasher:
    """A fresh hash object for one of `KNOWN`."""
    if name == BLAKE3:
        return blake3.blake3()  # one thread: the other core hashes SHA-256
    if name not in HEX_LENGTHS:
        raise ValueError(f"unknown hash algorithm: {name!r}")
    return hashlib.new(name, usedforsecurity=name not in LEGACY)


@dataclass(frozen=True)
class Hashed:
    """What `hash_stream` computed: the byte count and the hex digest of each algorithm."""

    size: int
    digests: dict[str, str]


def _buffers(source: Source, size: int, count: int) -> Iterator[memoryview]:
    """The source's data in views of `count` reused buffers of `size` bytes (anonymous
    mappings, so page-aligned, as O_DIRECT writes need; made as the ring fills); the consumer
    must be done with a view before the same buffer comes round again (see `_fan_out`)."""
    ring: list[memoryview] = []

    def buffer(turn: int) -> memoryview:
        if turn >= len(ring) and len(ring) < count:
            ring.append(memoryview(mmap.mmap(-1, size)))
        return ring[turn % count]

    turn = 0
    if isinstance(source, Reader):
        while True:
            buf = buffer(turn)
            got = source.readinto(buf)
            if not got:
                return
            turn += 1
            yield buf[:got]
    buf, filled = buffer(0), 0
    for chunk in source:
        view = memoryview(chunk).cast("B")
        while view:
            take = min(len(view), size - filled)
            buf[filled:filled + take] = view[:take]
            filled += take
            view = view[take:]
            if filled == size:
                yield buf
                turn += 1
                buf, filled = buffer(turn), 0
    if filled:
        yield buf[:filled]


Op = Callable[[memoryview], object]


class _Worker(threading.Thread):
    """Applies its ops to every buffer handed to it, in order; after an error it only drains
    (the buffers must still come back to the reader)."""

    def __init__(self, ops: list[Op], done: Callable[[], None]) -> None:
        super().__init__(name="rogatory-hash", daemon=True)
        self.ops = ops
        self.inbox: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self.error: BaseException | None = None
        self._done = done

    def run(self) -> None:
        while (view := self.inbox.get()) is not None:
            if self.error is None:
                try:
                    for op in self.ops:
                        op(view)
                except BaseException as exc:  # handed to the reader, which re-raises it
                    self.error = exc
            self._done()


def hash_stream(source: Source, algorithms: Collection[str], *, sink: Op | None = None,
                chunk_size: int = CHUNK_SIZE) -> Hashed:
    """Read `source` once, computing every hash in `algorithms` (and passing each buffer to
    `sink`, in order, e.g. a file write); see the module docstring. An error of the source,
    a hash or the sink is raised here once the workers have stopped."""
    names = list(dict.fromkeys(algorithms))
    for name in names:
        if name not in HEX_LENGTHS:
            raise ValueError(f"unknown hash algorithm: {name!r}")
    hashers = {name: new_hasher(name) for name in names}
    hashing: list[tuple[float, Op]] = [(_COST[n], hashers[n].update) for n in names]
    views = _buffers(source, chunk_size, RING)
    first = next(views, None)
    if first is None:
        return Hashed(0, {n: h.hexdigest() for n, h in hashers.items()})
    second = next(views, None)
    if second is None:  # one buffer: no threads
        for _, job in hashing:
            job(first)
        if sink is not None:
            sink(first)
        return Hashed(len(first), {n: h.hexdigest() for n, h in hashers.items()})

    groups: tuple[list[Op], list[Op]] = ([], [])
    load = [0.0, 0.0]
    for cost, job in sorted(hashing, key=lambda j: -j[0]):
        lighter = 0 if load[0] <= load[1] else 1
        groups[lighter].append(job)
        load[lighter] += cost
    # the sink on a thread of its own: a direct write mostly waits for the disk
    workers = [g for g in (*groups, [sink] if sink is not None else []) if g]
    size = _fan_out(chain((first, second), views), workers)
    return Hashed(size, {n: h.hexdigest() for n, h in hashers.items()})


def _fan_out(views: Iterator[memoryview], groups: list[list[Op]]) -> int:
    """Hand every view to one worker thread per group; returns the byte count.

    Pulling the next view refills a buffer of the ring: the view `RING` turns back must be
    released by every worker first. Workers take views in order, so views are released in
    order, and `free` counts the releases: after handing out view k, at most `RING - 1` views
    are unreleased before view k + 1 is pulled."""
    free = threading.Semaphore(0)
    lock = threading.Lock()
    shares: dict[int, int] = {}

    def done_for(worker_turns: list[int]) -> Callable[[], None]:
        def done() -> None:
            with lock:
                turn = worker_turns[0]
                worker_turns[0] += 1
                shares[turn] -= 1
                if shares[turn] == 0:
                    del shares[turn]
                    free.release()

        return done

    workers = [_Worker(ops, done_for([0])) for ops in groups]
    for worker in workers:
        worker.start()
    size = turn = unreleased = 0
    try:
        for view in views:
            with lock:
                shares[turn] = len(workers)
            for worker in workers:
                worker.inbox.put(view)
            size += len(view)
            turn += 1
            unreleased += 1
            if any(w.error is not None for w in workers):
                break
            if unreleased >= RING:
                free.acquire()
                unreleased -= 1
    finally:
        for worker in workers:
            worker.inbox.put(None)
        for worker in workers:
            worker.join()
    for worker in workers:
        if worker.error is not None:
            raise worker.error
    return size
