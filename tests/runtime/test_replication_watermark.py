"""The replication watermark: what local retention keeps because of it, how it is written,
and what an unreadable one means."""

from __future__ import annotations

from pathlib import Path

import pytest

from node_runtime import replication_watermark
from node_runtime.durable_io import write_atomically
from node_runtime.replication_watermark import (
    WATERMARK_NAME,
    GenerationMark,
    Status,
    Watermark,
    WatermarkCorruptError,
    load_watermark,
    replication_floor,
    save_watermark,
)

DONE = GenerationMark(Status.COMPLETE, 3, 0, done=True)
OPEN = GenerationMark(Status.COMPLETE, 1, 1)


def test_the_floor_is_the_oldest_generation_not_done_else_the_first_unseen() -> None:
    assert Watermark("t", {1: DONE, 2: OPEN, 3: OPEN}).floor() == 2
    assert Watermark("t", {1: DONE, 2: DONE}).floor() == 3  # newer ones are not shipped yet
    assert Watermark("t", {1: OPEN, 2: DONE}, lost=frozenset({1})).floor() == 3
    assert Watermark("t").floor() == 0  # nothing seen yet: everything is kept


def test_a_watermark_round_trips_through_its_file(tmp_path: Path) -> None:
    watermark = Watermark("target", {1: DONE, 4: OPEN}, lost=frozenset({2}))
    save_watermark(tmp_path, watermark)
    assert load_watermark(tmp_path) == watermark
    assert replication_floor(tmp_path) == 4


def test_only_the_creation_of_the_watermark_is_synced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[bool] = []
    real = write_atomically

    def recording(target: Path, data: bytes, *, durable: bool = True) -> None:
        written.append(durable)
        real(target, data, durable=durable)

    monkeypatch.setattr(replication_watermark, "write_atomically", recording)
    for _ in range(3):
        save_watermark(tmp_path, Watermark("t", {1: OPEN}))
    assert written == [True, False, False]


def test_an_unreadable_watermark_protects_everything_and_is_set_aside_when_loaded(
    tmp_path: Path,
) -> None:
    (tmp_path / WATERMARK_NAME).write_text('{"format": 1, "generations": {"1": {}}}')
    assert replication_floor(tmp_path) == 0  # retention keeps every generation
    assert (tmp_path / WATERMARK_NAME).exists()  # judging it moves nothing
    with pytest.raises(WatermarkCorruptError):
        load_watermark(tmp_path)
    assert not (tmp_path / WATERMARK_NAME).exists()
    assert (tmp_path / (WATERMARK_NAME + ".corrupt")).exists()
    assert replication_floor(tmp_path) is None
