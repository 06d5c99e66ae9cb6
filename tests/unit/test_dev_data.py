"""The local stack's kept data (devstack/persist.py) without a stack: the data directory
(lock, RESET, atomic private writes), the versioned snapshot format, DynamoDB JSON kept as
JSON text, and the gate that lets a snapshot pause the stream pollers."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from devstack.persist import (
    SNAPSHOT_FORMAT,
    SNAPSHOT_VERSION,
    DataDir,
    DataError,
    decode_item,
    encode_item,
    kept_generated_password,
    key_text,
)
from devstack.pollers import DeliveryGate

WAIT_SECONDS = 5.0


def _snapshot(**changes: Any) -> dict[str, Any]:
    snapshot: dict[str, Any] = {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "tables": {"PaymentsTable": []},
        "pending": {},
        "cognito": {"pools": {}},
        "devstack": {"generated_passwords": {}},
    }
    snapshot.update(changes)
    return snapshot


# --- the snapshot file -----------------------------------------------------------------------


def test_a_fresh_data_directory_has_no_snapshot(tmp_path: Path) -> None:
    assert DataDir(tmp_path / "data").load() is None


def test_a_written_snapshot_reads_back_and_is_private(tmp_path: Path) -> None:
    # Given a data directory
    data = DataDir(tmp_path / "data")

    # When a snapshot is written twice
    data.write(_snapshot(written_at="first"))
    data.write(_snapshot(written_at="second"))

    # Then the last one reads back, readable by its owner only, with no temporary file left
    assert data.load() == _snapshot(written_at="second")
    assert stat.S_IMODE(data.snapshot_path.stat().st_mode) == 0o600
    assert sorted(p.name for p in data.path.iterdir()) == ["snapshot.json"]


def test_a_snapshot_of_another_version_is_refused_naming_reset(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "data")
    data.path.mkdir()
    data.snapshot_path.write_text(json.dumps(_snapshot(version=SNAPSHOT_VERSION + 1)))

    with pytest.raises(DataError, match=r"version 2.*RESET=1"):
        data.load()


@pytest.mark.parametrize("content", ["{not json", json.dumps({"tables": {}}), "[]"])
def test_a_file_that_is_no_snapshot_is_refused_naming_reset(tmp_path: Path, content: str) -> None:
    data = DataDir(tmp_path / "data")
    data.path.mkdir()
    data.snapshot_path.write_text(content)

    with pytest.raises(DataError, match="RESET=1"):
        data.load()


def test_reset_forgets_the_snapshot_and_kept_mail_but_nothing_else(tmp_path: Path) -> None:
    # Given a data directory with a snapshot, mail, SMTP mail and a file of the developer's
    data = DataDir(tmp_path / "data")
    data.write(_snapshot())
    for folder in (data.mail_dir, data.smtp_dir):
        folder.mkdir()
        (folder / "one.eml").write_text("mail")
    (data.path / "notes.txt").write_text("mine")

    # When RESET=1 applies
    removed = data.reset()

    # Then the snapshot and the mail are gone; the rest stays
    assert data.load() is None
    assert list(data.mail_dir.iterdir()) == []
    assert list(data.smtp_dir.iterdir()) == []
    assert (data.path / "notes.txt").read_text() == "mine"
    assert removed == ["snapshot.json", "1 file(s) in mail/", "1 file(s) in smtp/"]


def test_a_second_stack_cannot_use_the_same_data_directory(tmp_path: Path) -> None:
    # Given one stack holding the directory
    first = DataDir(tmp_path / "data")
    first.lock()
    try:
        # When another one tries to
        with pytest.raises(DataError, match="another local stack"):
            DataDir(tmp_path / "data").lock()
    finally:
        first.unlock()

    # Then, once the first let go, it can
    second = DataDir(tmp_path / "data")
    second.lock()
    second.unlock()


def test_a_generated_password_is_printed_again_only_while_it_was_kept() -> None:
    snapshot = _snapshot(devstack={"generated_passwords": {"admin@scc.local": "pw-1"}})

    assert kept_generated_password(snapshot, "Admin@scc.local") == "pw-1"
    assert kept_generated_password(snapshot, "crew@scc.local") is None
    assert kept_generated_password(None, "admin@scc.local") is None


# --- items as JSON -----------------------------------------------------------------------------


def test_every_dynamodb_type_survives_the_trip_through_json_text() -> None:
    item = {
        "pk": {"S": "EVENT#e1"},
        "sk": {"S": "PAYMENT#p1"},
        "amount_cents": {"N": "15000"},
        "raw": {"B": b"\x00\xffbytes"},
        "blobs": {"BS": [b"a", b"b"]},
        "tags": {"SS": ["x", "y"]},
        "numbers": {"NS": ["1", "2.5"]},
        "flag": {"BOOL": True},
        "nothing": {"NULL": True},
        "nested": {"M": {"list": {"L": [{"S": "a"}, {"B": b"c"}, {"M": {"n": {"N": "1"}}}]}}},
    }

    text = json.dumps(encode_item(item))

    assert decode_item(json.loads(text)) == item


def test_an_item_and_its_stream_keys_name_the_same_key() -> None:
    item = {"pk": {"S": "EVENT#e1"}, "sk": {"S": "PAYMENT#p1"}, "amount_cents": {"N": "1"}}
    stream_keys = {"sk": {"S": "PAYMENT#p1"}, "pk": {"S": "EVENT#e1"}}

    assert key_text(item, ("pk", "sk")) == key_text(stream_keys, ("pk", "sk"))


# --- the gate between snapshots and stream deliveries ------------------------------------------


def test_a_pause_waits_for_the_delivery_in_flight_and_holds_back_the_next() -> None:
    gate = DeliveryGate()
    delivering = threading.Event()
    finish = threading.Event()
    paused = threading.Event()
    second_started = threading.Event()

    def delivery() -> None:
        with gate.delivering():
            delivering.set()
            finish.wait(WAIT_SECONDS)

    seen: list[bool] = []

    def snapshot() -> None:
        with gate.paused(WAIT_SECONDS) as acquired:
            paused.set()
            # While paused, a new delivery does not start
            seen.extend([acquired, second_started.wait(0.2)])

    def second_delivery() -> None:
        with gate.delivering():
            second_started.set()

    # Given a delivery in flight
    first = threading.Thread(target=delivery)
    first.start()
    assert delivering.wait(WAIT_SECONDS)

    # When a snapshot asks for a pause
    taker = threading.Thread(target=snapshot)
    taker.start()

    # Then it waits for that delivery ...
    assert not paused.wait(0.2)
    finish.set()
    assert paused.wait(WAIT_SECONDS)
    # ... and a delivery asked for meanwhile starts only once the pause ends
    later = threading.Thread(target=second_delivery)
    later.start()
    taker.join(WAIT_SECONDS)
    assert seen == [True, False]
    assert second_started.wait(WAIT_SECONDS)
    for thread in (first, later):
        thread.join(WAIT_SECONDS)


def test_a_pause_gives_up_after_its_timeout_and_blocks_nothing() -> None:
    gate = DeliveryGate()
    release = threading.Event()
    inside = threading.Event()

    def stuck_delivery() -> None:
        with gate.delivering():
            inside.set()
            release.wait(WAIT_SECONDS)

    thread = threading.Thread(target=stuck_delivery)
    thread.start()
    assert inside.wait(WAIT_SECONDS)

    with gate.paused(0.05) as acquired:
        assert not acquired
    # Other deliveries go on while that one is stuck
    with gate.delivering():
        pass
    release.set()
    thread.join(WAIT_SECONDS)
