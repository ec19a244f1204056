"""The commands over a store's journals: `inspect` and `replay` act on the state after the
deltas, `store ls` and `store verify` show each journal, its torn tail and its damage."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from cli_support import IDENTITY, KEY, S, run, snapshots

from node_runtime import DirectoryStore, ManualClock, Node, read_header, seal_delta
from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.main import main
from node_runtime.cli.render import iso_utc
from snapshot_schema import TransientSnapshot, diff
from snapshot_schema.delta_records import VersionedSnapshot

NODE = str(IDENTITY.peer_id)
SNAPSHOT = f"{1:020d}.nsnap"
JOURNAL = f"{1:020d}.journal"


def _third(b: TransientSnapshot) -> TransientSnapshot:
    """B, 2 s later, with a counter moved: the state after the journal's second delta."""
    clock = ManualClock(b.taken_at.monotonic_ns, b.taken_at.wall_ns)
    node = Node.restore(b, IDENTITY, clock=clock)
    clock.advance(2 * S)
    node.counters.increment("journal_test", 7)
    return node.snapshot()


def _journaled(directory: Path, **options: object) -> list[TransientSnapshot]:
    """A signed store: snapshot A as generation 1, then deltas to B and to B + 2 s."""
    a, b = snapshots()
    states = [a, b, _third(b)]
    with DirectoryStore(directory, signer=IDENTITY, fsync=False, **options) as store:  # type: ignore[arg-type]
        ref = store.save(a)
        assert ref.state is not None
        tip = VersionedSnapshot(ref.state, a)
        for state in states[1:]:
            delta = diff(tip, state)
            store.append(delta)
            tip = VersionedSnapshot(delta.target, state)
    return states


@pytest.fixture
def store(tmp_path: Path) -> Path:
    directory = tmp_path / "store"
    _journaled(directory)
    return directory


def _second_record_flipped(store: Path) -> int:
    """Flip a bit inside the journal's second record; where that record starts."""
    path = store / JOURNAL
    data = bytearray(path.read_bytes())
    start = read_header(data).file_length
    data[start + read_header(data[start:]).header_length + 5] ^= 0x01  # in its body
    path.write_bytes(data)
    return start


def _run_with_warnings(
    capsys: pytest.CaptureFixture[str], *args: str | Path
) -> tuple[int, list[str], str]:
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


def test_inspect_shows_the_journal_and_the_state_after_its_deltas(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    states = _journaled(store.parent / "again")  # the same states
    code, lines = run(capsys, "inspect", store / SNAPSHOT)
    assert code == ExitCode.OK
    size = (store / JOURNAL).stat().st_size
    last = iso_utc(states[2].taken_at.wall_ns)
    assert f"journal       2 deltas, {size} bytes, to {last}" in lines
    assert f"  taken at      {last} (monotonic 1007.000 s)" in lines
    assert any("journal_test=7" in line for line in lines)
    code, alone = run(capsys, "inspect", "--no-journal", store / SNAPSHOT)
    assert not any(line.startswith("journal") for line in alone)
    assert f"  taken at      {iso_utc(states[0].taken_at.wall_ns)} (monotonic 1000.000 s)" in alone


def test_inspect_of_a_journal_reads_its_snapshot_with_it(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, from_snapshot = run(capsys, "inspect", store / SNAPSHOT)
    _, from_journal = run(capsys, "inspect", store / JOURNAL)
    assert from_journal == from_snapshot


def test_inspect_json_holds_the_journal_and_the_state_after_it(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run(capsys, "inspect", "--json", store / SNAPSHOT)
    assert code == ExitCode.OK
    document = json.loads("\n".join(lines))
    journal = document["journal"]
    assert journal["path"] == str(store / JOURNAL)
    assert (journal["applied"], journal["deltas"], journal["damage"]) == (True, "2", None)
    assert journal["bytes"] == str((store / JOURNAL).stat().st_size)
    assert journal["state"]["generation"] == "1"
    assert journal["state"]["sequence"] == "2"
    assert document["snapshot"]["framework"]["counters"]["journal_test"] == "7"
    code, lines = run(capsys, "inspect", "--json", "--no-journal", store / SNAPSHOT)
    assert json.loads("\n".join(lines))["journal"] is None


def test_inspect_of_an_encrypted_store_without_the_key_counts_the_deltas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _journaled(tmp_path, encryption_key=KEY)
    code, lines = run(capsys, "inspect", tmp_path / SNAPSHOT)
    assert code == ExitCode.OK
    journal = next(line for line in lines if line.startswith("journal"))
    assert journal.startswith("journal       2 deltas, ")
    assert journal.endswith("(encrypted: pass --key-file to verify and apply them)")
    _, lines = run(capsys, "inspect", "--key-file", _key_file(tmp_path), tmp_path / SNAPSHOT)
    assert any("journal_test=7" in line for line in lines)


def _key_file(directory: Path) -> Path:
    path = directory / "snapshot.key"
    path.write_text(KEY.hex())
    return path


def test_inspect_reports_a_damaged_record_and_shows_the_state_before_it(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = _second_record_flipped(store)
    code, lines, err = _run_with_warnings(capsys, "inspect", store / SNAPSHOT)
    assert code == ExitCode.OK
    journal = next(line for line in lines if line.startswith("journal"))
    assert f"1 deltas, {start} bytes" in journal
    assert f"; stopped at record 1 at offset {start}: integrity check failed" in journal
    assert not any("journal_test" in line for line in lines)
    assert err == ""


def test_replay_restores_the_state_after_the_deltas(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    states = _journaled(tmp_path / "again")
    identity = tmp_path / "node.pem"
    IDENTITY.save(identity)
    code, lines = run(capsys, "replay", store / SNAPSHOT, "--identity", identity)
    assert code == ExitCode.OK
    last = iso_utc(states[2].taken_at.wall_ns)
    size = (store / JOURNAL).stat().st_size
    assert lines[0] == f"journal: 2 deltas, {size} bytes, to {last}"
    assert lines[1] == f"restored {NODE} as at {last} (0.000 s after the snapshot)"
    _, alone = run(capsys, "replay", "--no-journal", store / SNAPSHOT, "--identity", identity)
    assert alone[0].startswith(f"restored {NODE} as at {iso_utc(states[0].taken_at.wall_ns)}")


def test_store_ls_shows_each_journal(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    states = _journaled(store.parent / "again")
    size = (store / JOURNAL).stat().st_size
    code, lines = run(capsys, "store", "ls", store)
    assert code == ExitCode.OK
    assert lines[0].endswith(
        f"  signed  journal 2 deltas {size} bytes to {iso_utc(states[2].taken_at.wall_ns)}"
    )
    code, lines = run(capsys, "store", "ls", "--json", store)
    journal = json.loads("\n".join(lines))[0]["journal"]
    assert journal == {
        "path": str(store / JOURNAL),
        "deltas": "2",
        "bytes": str(size),
        "file_size": str(size),
        "last_created": iso_utc(states[2].taken_at.wall_ns),
        "problem": None,
    }


def test_store_ls_shows_a_torn_tail_and_damage(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = store / JOURNAL
    whole = path.read_bytes()
    path.write_bytes(whole[:-5])
    _, lines = run(capsys, "store", "ls", store)
    first = read_header(whole).file_length
    torn = len(whole) - 5 - first
    assert lines[0].endswith(
        f"journal 1 deltas {first} bytes to {_time_of(whole)} (+{torn} bytes torn)"
    )
    path.write_bytes(whole[:first] + b"garbage!" + whole[first:])
    _, lines = run(capsys, "store", "ls", store)
    assert f"journal 1 deltas {first} bytes to {_time_of(whole)}, then DAMAGED: " in lines[0]


def _time_of(journal: bytes) -> str:
    return iso_utc(read_header(journal).created_wall_ns)


def test_store_verify_checks_each_journal(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    size = (store / JOURNAL).stat().st_size
    code, lines = run(capsys, "store", "verify", store, "--peer", NODE)
    assert code == ExitCode.OK
    assert lines[1] == f"OK {store / JOURNAL} 2 deltas, {size} bytes"
    start = _second_record_flipped(store)
    code, lines, err = _run_with_warnings(capsys, "store", "verify", store)
    assert code == ExitCode.DAMAGED
    assert lines[0].startswith(f"OK {store / SNAPSHOT} ")
    assert lines[1].startswith(
        f"DAMAGED {store / JOURNAL}: 1 deltas apply, then record 1 at offset {start}: "
        "integrity check failed"
    )
    assert "loading stopped after 1 deltas" in err  # the store's own warning


def test_store_verify_accepts_a_torn_last_record(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = store / JOURNAL
    whole = path.read_bytes()
    path.write_bytes(whole[:-5])
    first = read_header(whole).file_length
    code, lines = run(capsys, "store", "verify", store)
    assert code == ExitCode.OK
    torn = len(whole) - 5 - first
    assert lines[1] == (
        f"OK {path} 1 deltas, {first} bytes; a torn last record of {torn} bytes left out"
    )


def test_store_verify_reports_a_record_whose_signature_fails_as_untrusted(
    store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with DirectoryStore(store, read_only=True) as reader:
        tip = reader.latest()
    assert tip is not None
    delta = diff(tip.versioned, _third(tip.snapshot))
    record = bytearray(seal_delta(delta, peer_id=IDENTITY.peer_id, signer=IDENTITY))
    record[-40] ^= 0x01  # in the signature; the digest after it made to match again
    record[-32:] = hashlib.sha256(record[:-32]).digest()
    with (store / JOURNAL).open("ab") as file:
        file.write(record)
    code, lines, _ = _run_with_warnings(capsys, "store", "verify", store, "--peer", NODE)
    assert code == ExitCode.UNTRUSTED
    assert lines[1].startswith(f"UNTRUSTED {store / JOURNAL}: 2 deltas apply, then record 2 at")
    assert "signature does not verify" in lines[1]
