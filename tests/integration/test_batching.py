"""Micro-batching: batched answers equal unbatched ones, the queue is bounded, a lone request waits for nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from service.batching import MicroBatcher, OverloadedError
from service.predictor import Answer, PredictItem, Predictor
from tests.conftest import assert_same_prediction

TEXTS = [
    "A gorgeous, witty film.",
    "Dull and far too long.",
    "not bad at all",
    "I wouldn't recommend it to anyone!!!",
    "the " * 30 + "end",
    "ok",
]


@pytest.fixture(scope="module")
def predictor(tiny_checkpoint: Path) -> Predictor:
    return Predictor.load(tiny_checkpoint)


def test_concurrent_requests_share_forward_passes_and_equal_single_results(predictor: Predictor) -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(max_batch=16, max_wait_ms=2, on_batch=lambda p, n: sizes.append(n))

    async def run() -> list[list[Answer]]:
        batcher.start()
        try:
            jobs = [
                batcher.submit(predictor, [PredictItem(predictor.encode(TEXTS[i % len(TEXTS)]))]) for i in range(60)
            ]
            return list(await asyncio.gather(*jobs))
        finally:
            batcher.stop()

    results = asyncio.run(run())
    assert max(sizes) > 1, sizes  # requests were batched together
    assert max(sizes) <= 16
    assert sum(sizes) == 60
    for i, (pred,) in enumerate(results):
        (single,) = predictor.predict([PredictItem(predictor.encode(TEXTS[i % len(TEXTS)]))])
        assert_same_prediction(pred, single)


def test_queue_is_bounded(predictor: Predictor) -> None:
    batcher = MicroBatcher(max_batch=4, max_queue=5)

    async def run() -> tuple[int, int]:
        pending = [
            asyncio.ensure_future(batcher.submit(predictor, [PredictItem(predictor.encode("fine"))])) for _ in range(5)
        ]
        await asyncio.sleep(0)  # all five are queued; the worker is not running yet
        with pytest.raises(OverloadedError) as info:
            await batcher.submit(predictor, [PredictItem(predictor.encode("one too many"))])
        assert info.value.retry_after >= 1
        with pytest.raises(OverloadedError):
            await batcher.submit(predictor, [PredictItem(predictor.encode("x"))] * 6)
        assert batcher.queued == 5
        batcher.start()  # the queue drains and every accepted request is answered
        done = await asyncio.gather(*pending)
        batcher.stop()
        return len(done), batcher.queued

    assert asyncio.run(run()) == (5, 0)


def test_lone_request_is_not_delayed_by_the_batching_window(predictor: Predictor) -> None:
    batcher = MicroBatcher(max_batch=64, max_wait_ms=500)

    async def run() -> list[float]:
        batcher.start()
        try:
            times = []
            for _ in range(5):
                started = time.perf_counter()
                await batcher.submit(predictor, [PredictItem(predictor.encode("a lone request"))])
                times.append(time.perf_counter() - started)
                await asyncio.sleep(0.01)
            return times
        finally:
            batcher.stop()

    times = asyncio.run(run())
    assert max(times) < 0.25, times  # far below the 500 ms window


def test_large_jobs_are_split_into_max_batch_chunks(predictor: Predictor) -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(max_batch=8, on_batch=lambda p, n: sizes.append(n))

    async def run() -> int:
        batcher.start()
        try:
            return len(await batcher.submit(predictor, [PredictItem(predictor.encode(t)) for t in TEXTS * 5]))
        finally:
            batcher.stop()

    assert asyncio.run(run()) == 30
    assert sizes == [8, 8, 8, 6]


def test_stopped_batcher_refuses_work(predictor: Predictor) -> None:
    batcher = MicroBatcher()
    batcher.start()
    batcher.stop()

    async def run() -> None:
        await batcher.submit(predictor, [PredictItem(predictor.encode("late"))])

    with pytest.raises(OverloadedError):
        asyncio.run(run())


def test_a_request_past_its_timeout_raises_and_the_batcher_goes_on(predictor: Predictor) -> None:
    batcher = MicroBatcher()

    async def run() -> list[Answer]:
        started = time.perf_counter()
        with pytest.raises(TimeoutError):  # nothing runs the queue yet
            await batcher.submit(predictor, [PredictItem(predictor.encode("too late"))], timeout=0.05)
        assert 0.04 < time.perf_counter() - started < 1
        batcher.start()  # the abandoned job still runs; its answer is dropped, the next one arrives
        try:
            return await batcher.submit(predictor, [PredictItem(predictor.encode("on time"))], timeout=10)
        finally:
            batcher.stop()

    (answer,) = asyncio.run(run())
    (single,) = predictor.predict([PredictItem(predictor.encode("on time"))])
    assert_same_prediction(answer, single)


def test_requests_submitted_in_one_pass_of_the_loop_share_one_forward_pass(predictor: Predictor) -> None:
    sizes: list[int] = []
    batcher = MicroBatcher(max_batch=64, max_wait_ms=0, on_batch=lambda p, n: sizes.append(n))

    async def request(text: str) -> list[Answer]:
        time.sleep(0.002)  # work between submissions that lets the thread run, as a socket write does
        return await batcher.submit(predictor, [PredictItem(predictor.encode(text))])

    async def run() -> None:
        batcher.start()
        try:
            for _ in range(3):  # the thread is idle each time: nothing but the flush makes the batch
                await asyncio.gather(*(request(t) for t in TEXTS))
                await asyncio.sleep(0.01)
        finally:
            batcher.stop()

    asyncio.run(run())
    assert sizes == [len(TEXTS)] * 3
