"""Micro-batching: concurrent requests share one forward pass, on one dedicated inference thread.

The event loop only enqueues work (the jobs submitted in one pass of the loop together, with one
wake-up) and awaits a future; the thread takes everything queued, runs
it in batches of at most ``max_batch`` texts and hands the results back with one loop callback per
batch. An idle thread starts on a lone request at once (no added latency); under load, requests
queue while a forward runs and form the next batch. The queue is bounded in texts: past the bound
`submit` raises `OverloadedError` so the caller can answer 503 instead of letting latency grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from service.predictor import Answer, PredictItem, Predictor

log = logging.getLogger("service.batching")


class OverloadedError(RuntimeError):
    """The queue is full; retry after ``retry_after`` seconds."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__("the service is at capacity; retry shortly")
        self.retry_after = retry_after


@dataclass
class _Job:
    predictor: Predictor
    requests: list[PredictItem]
    future: asyncio.Future[list[Answer]]
    loop: asyncio.AbstractEventLoop
    results: list[Answer] = field(default_factory=list)
    error: BaseException | None = None


class MicroBatcher:
    def __init__(
        self,
        max_batch: int = 64,
        max_wait_ms: float = 1.0,
        max_queue: int = 2048,
        torch_threads: int = 1,
        on_batch: Callable[[Predictor, int], None] | None = None,
    ) -> None:
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.max_queue = max_queue
        self.torch_threads = torch_threads
        self.on_batch = on_batch
        self._jobs: deque[_Job] = deque()
        self._pending: list[_Job] = []  # submitted in this pass of the event loop; `_flush` queues them
        self._queued_texts = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def queued(self) -> int:
        return self._queued_texts

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="inference", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Finish what is queued, then end the thread."""
        with self._cond:
            self._jobs.extend(self._pending)
            self._pending.clear()
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    async def submit(
        self, predictor: Predictor, requests: list[PredictItem], timeout: float | None = None
    ) -> list[Answer]:
        """The answers to ``requests``; `OverloadedError` when the queue is full, `TimeoutError` when
        they take longer than ``timeout`` seconds (the job is still run, its answer dropped)."""
        loop = asyncio.get_running_loop()
        job = _Job(predictor, requests, loop.create_future(), loop)
        with self._cond:
            if self._stopping:
                raise OverloadedError()
            if self._queued_texts + len(requests) > self.max_queue:
                raise OverloadedError()
            self._queued_texts += len(requests)
            self._pending.append(job)
            first = len(self._pending) == 1
        if first:
            loop.call_soon(self._flush)
        if timeout is None:
            return await job.future
        # One timer on the job's own future: `asyncio.wait_for` wrapped it in a task of its own,
        # about 10 us per request more (docs/performance.md).
        expiry = loop.call_later(timeout, _expire, job.future)
        try:
            return await job.future
        finally:
            expiry.cancel()

    def _flush(self) -> None:
        """Queue the jobs submitted since the last flush, and wake the thread once for all of them.

        Requests that arrive together are parsed in one pass of the event loop; had each woken the
        thread as it was submitted, the thread would start on the first few while the loop still
        parsed the rest, and run half-size batches (measured: a mean batch of 8 instead of 16 at
        16 connections, and fewer requests per second)."""
        with self._cond:
            self._jobs.extend(self._pending)
            self._pending.clear()
            self._cond.notify()

    def _take(self) -> list[_Job] | None:
        """Block until work is queued; take jobs up to ``max_batch`` texts (at least one job)."""
        with self._cond:
            while not self._jobs:
                if self._stopping:
                    return None
                self._cond.wait()
            taken, texts = self._take_ready()
            # Under load, a short wait lets a batch fill; never when the queue just emptied.
            if texts < self.max_batch and self.max_wait > 0 and self._busy_recently:
                deadline = time.perf_counter() + self.max_wait
                while texts < self.max_batch and (remaining := deadline - time.perf_counter()) > 0:
                    if not self._jobs:
                        self._cond.wait(remaining)
                        continue
                    more, n = self._take_ready(self.max_batch - texts)
                    taken += more
                    texts += n
            self._busy_recently = texts > 1 or bool(self._jobs)
            return taken

    _busy_recently = False

    def _take_ready(self, room: int | None = None) -> tuple[list[_Job], int]:
        room = self.max_batch if room is None else room
        taken: list[_Job] = []
        texts = 0
        while self._jobs and (not taken or texts + len(self._jobs[0].requests) <= room):
            job = self._jobs.popleft()
            taken.append(job)
            texts += len(job.requests)
        self._queued_texts -= texts
        return taken, texts

    def _run(self) -> None:
        torch.set_num_threads(self.torch_threads)
        while (jobs := self._take()) is not None:
            with torch.inference_mode():
                self._process(jobs)
            by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
            for job in jobs:
                by_loop.setdefault(job.loop, []).append(job)
            for loop, group in by_loop.items():
                with contextlib.suppress(RuntimeError):  # the loop closed while we computed
                    loop.call_soon_threadsafe(_deliver, group)

    def _process(self, jobs: list[_Job]) -> None:
        """Run the taken jobs grouped by model, in length-sorted chunks of at most ``max_batch``."""
        groups: dict[int, list[_Job]] = {}
        for job in jobs:
            groups.setdefault(id(job.predictor), []).append(job)
        for group in groups.values():
            predictor = group[0].predictor
            items = [(job, i) for job in group for i in range(len(job.requests))]
            items.sort(key=lambda item: len(item[0].requests[item[1]].encoded.ids))
            for job in group:
                job.results = [None] * len(job.requests)  # type: ignore[list-item]
            for start in range(0, len(items), self.max_batch):
                chunk = items[start : start + self.max_batch]
                try:
                    preds = predictor.predict([job.requests[i] for job, i in chunk])
                except Exception as exc:  # delivered to the awaiting request, logged there
                    for job, _ in chunk:
                        job.error = exc
                    continue
                if self.on_batch is not None:
                    self.on_batch(predictor, len(chunk))
                for (job, i), pred in zip(chunk, preds, strict=True):
                    job.results[i] = pred


def _expire(future: asyncio.Future[list[Answer]]) -> None:
    if not future.done():
        future.set_exception(TimeoutError())


def _deliver(jobs: list[_Job]) -> None:
    for job in jobs:
        if job.future.done():  # cancelled: the client went away or timed out
            continue
        if job.error is not None:
            job.future.set_exception(job.error)
        else:
            job.future.set_result(job.results)
