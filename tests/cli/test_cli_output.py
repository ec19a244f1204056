"""What the commands write is honest: JSON keeps 64-bit integers exact (as strings), human
output never hands a terminal a control character from a snapshot, and a terminal that cannot
show a character gets its escape, not a traceback."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cli_support import IDENTITY, Files, S, build_files, nodesnap

from node_runtime import ManualClock, Node
from node_runtime.cli.exit_codes import ExitCode
from node_runtime.cli.main import main
from snapshot_schema import TransientSnapshot, TypedBusSnapshot, decode, encode

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "v2"
HEADER_NUMBERS = {"container_version", "spec_version", "header_length"}  # 16 bits in the header


def declared(width: str) -> set[str]:
    """The fields docs/FORMAT.md §3 declares with integer type `width` (`u32` or `u64`)."""
    body = (ROOT / "docs" / "FORMAT.md").read_text().split("## 3.")[1].split("## 4.")[0]
    return set(re.findall(rf"(?<!mapping ){width}(?: \| nil)? (\w+)", body))


def integers(node: object, field: str) -> Iterator[tuple[str, object]]:
    """Every integer-bearing leaf of a JSON document, with the field it belongs to: a value
    in an array or under a mapping key (not a field name) belongs to the enclosing field."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from integers(value, key if not key.isdigit() and key != "key" else field)
    elif isinstance(node, list):
        for item in node:
            yield from integers(item, field)
    elif isinstance(node, str | int) and str(node).isdigit():  # not bool: str(True) is "True"
        yield field, node


@pytest.mark.parametrize("golden", ["maximal", "every_ingress", "peer_state", "peer_state_edges"])
def test_json_writes_u64_values_as_strings_and_u32_fields_as_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], golden: str
) -> None:
    u32, u64 = declared("u32") | {"spec_version"}, declared("u64")
    assert {"attempts", "failure_threshold", "monotonic_ns", "next_command_id"} <= u32 | u64
    path = tmp_path / f"{golden}.snapshot"
    path.write_bytes((GOLDEN / f"{golden}.msgpack").read_bytes())
    assert main(["inspect", "--json", str(path)]) == ExitCode.OK
    document = json.loads(capsys.readouterr().out)
    seen = list(integers(document["snapshot"], "snapshot"))
    numbers = {field for field, value in seen if isinstance(value, int)}
    assert numbers <= u32, numbers - u32
    strings = {field for field, value in seen if isinstance(value, str)}
    assert strings & u32 == set()
    assert u64 & strings, "the golden file holds u64 fields"
    assert document["size"] == str(path.stat().st_size)


def test_json_keeps_integers_above_2_to_the_53_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    maximal = decode((GOLDEN / "maximal.msgpack").read_bytes())
    path = tmp_path / "maximal.snapshot"
    path.write_bytes(encode(maximal))
    main(["inspect", "--json", str(path)])
    snapshot = json.loads(capsys.readouterr().out)["snapshot"]
    top = str(2**64 - 1)
    assert snapshot["taken_at"] == {"monotonic_ns": top, "wall_ns": top}
    assert snapshot["framework"]["next_command_id"] == top
    assert int(snapshot["framework"]["next_command_id"]) == maximal.framework.next_command_id


def test_sealed_header_and_store_listing_follow_the_same_convention(
    files: Files, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["inspect", "--json", str(files.a)])
    header = json.loads(capsys.readouterr().out)["header"]
    assert {name for name, value in header.items() if isinstance(value, int)} == HEADER_NUMBERS
    assert header["generation"] == "1"
    assert header["created_wall_ns"] == str(1_764_000_000 * S)
    main(["store", "ls", "--json", str(files.store)])
    first = json.loads(capsys.readouterr().out)[0]
    assert first["generation"] == "1"
    assert first["size"] == str((files.store / f"{1:020d}.nsnap").stat().st_size)
    listed = first["header"]
    assert {name for name, value in listed.items() if isinstance(value, int)} == HEADER_NUMBERS
    assert listed["file_length"] == first["size"]


HOSTILE = {
    "counter": "ok\x1b]0;pwned\x07\x1b[2J",  # set the window title, clear the screen
    "phase": "started\x9b31m",  # a C1 control: CSI on some terminals
    "kind": "ping\u202eevil",  # a bidi override that reverses what follows
}


def hostile_snapshot() -> TransientSnapshot:
    clock = ManualClock(monotonic_ns=1_000 * S, wall_ns=1_764_000_000 * S)
    node = Node(IDENTITY, clock=clock)
    node.counters.increment(HOSTILE["counter"])
    snapshot = node.snapshot()
    framework = attrs.evolve(snapshot.framework, fired_phases=(HOSTILE["phase"],))
    return attrs.evolve(
        snapshot, framework=framework, bus=TypedBusSnapshot({HOSTILE["kind"]: (1,)})
    )


def test_human_output_escapes_control_characters_from_snapshot_strings(
    files: Files, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = tmp_path / "hostile.snapshot"
    hostile.write_bytes(encode(hostile_snapshot()))
    outputs = []
    for args in (
        ["inspect", hostile],
        ["diff", files.raw, hostile],
        ["replay", hostile, "--identity", files.identity],
    ):
        assert main([str(arg) for arg in args]) == ExitCode.OK
        outputs.append(capsys.readouterr().out)
    for output in outputs:
        assert all(char.isprintable() for char in output.replace("\n", "")), output
    inspected, diffed, replayed = outputs
    assert r"counters      ok\x1b]0;pwned\x07\x1b[2J=1" in inspected
    assert r"lifecycle     pending phases: started\x9b31m" in inspected
    assert r"  pending phases none -> started\x9b31m" in diffed
    assert r"ping\u202eevil" in diffed
    assert r"lifecycle: pending phases: started\x9b31m" in replayed


def test_json_output_is_ascii_and_keeps_every_string_exact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = tmp_path / "hostile.snapshot"
    hostile.write_bytes(encode(hostile_snapshot()))
    main(["inspect", "--json", str(hostile)])
    out = capsys.readouterr().out
    assert out.isascii()
    framework = json.loads(out)["snapshot"]["framework"]
    assert framework["counters"] == {HOSTILE["counter"]: "1"}
    assert framework["fired_phases"] == [HOSTILE["phase"]]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    return build_files(tmp_path_factory.mktemp("cli-output"))


def ascii_terminal(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`nodesnap ARGS` writing to a terminal whose encoding is ASCII (a non-UTF-8 locale)."""
    return subprocess.run(
        [sys.executable, "-m", "node_runtime", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="ascii",
        check=False,
        timeout=60,
        env={**os.environ, "PYTHONIOENCODING": "ascii"},
    )


def test_a_terminal_that_cannot_show_a_character_gets_its_escape_not_a_traceback(
    files: Files,
) -> None:
    unicode = files.path("unicode.snapshot")
    unicode.write_bytes((GOLDEN / "unicode_names.msgpack").read_bytes())
    shown = ascii_terminal("inspect", unicode)
    assert (shown.returncode, shown.stderr) == (ExitCode.OK, "")
    assert "\\u" in shown.stdout or "\\x" in shown.stdout
    refused = ascii_terminal("inspect", files.path("nowhere.nsnap"))
    assert refused.returncode == ExitCode.UNREADABLE
    assert refused.stderr.startswith("nodesnap: error: ")
    assert "\\u2014" in refused.stderr  # the em dash between what and what to do
    assert "Traceback" not in shown.stderr + refused.stderr
    usage = ascii_terminal("inspect")
    assert usage.returncode == ExitCode.USAGE
    assert "Traceback" not in usage.stderr


def test_an_undecodable_file_name_is_escaped(files: Files) -> None:
    name = os.fsdecode(b"snap\xff\x1b.nsnap")  # not UTF-8, and an ESC
    result = nodesnap("inspect", files.root / name)
    assert result.returncode == ExitCode.UNREADABLE
    assert "snap\\udcff\\x1b.nsnap" in result.stderr
    assert "\x1b" not in result.stderr
