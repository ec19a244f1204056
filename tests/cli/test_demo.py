"""`nodesnap demo`: a real run passes every check and leaves its data; a failed check fails it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from node_runtime.demo.report import exit_status, judge, render
from node_runtime.demo.scenario import Measurements
from node_runtime.directory_store import DirectoryStore
from node_runtime.peer_governor import PeerGovernor
from snapshot_schema import TransientSnapshot

CHECKS = 10
S = 1_000_000_000


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "node_runtime", "demo", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_demo_passes_every_check_and_leaves_the_stores(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    # Four nodes, then the default three in the same directory: a demo's data is replaced.
    for nodes, names in (("4", ["victim", "blocked", "receiver", "peer4"]), ("3", None)):
        run = demo("--dir", str(directory), "--nodes", nodes)
        assert run.returncode == 0, run.stdout + run.stderr
        lines = run.stdout.splitlines()
        phases = [line for line in lines if line.startswith("- ")]
        assert lines[: len(phases)] == phases  # every phase before the report
        assert phases[0] == f"- starting {nodes} node processes on 127.0.0.1"
        assert phases[-1] == "- stopping the nodes"
        (killed,) = (phase for phase in phases if phase.startswith("- killing the victim"))
        generation = killed.rsplit(" ", 1)[1]
        assert f"after its autosave of generation {generation}, then restarted" in run.stdout
        verdicts = [line for line in lines if line.startswith(("OK  ", "FAIL"))]
        assert len(verdicts) == CHECKS, run.stdout
        assert all(line.startswith("OK  ") for line in verdicts), run.stdout
        assert f"{CHECKS}/{CHECKS} checks passed" in run.stdout
        assert f"data: {directory}" in run.stdout
        for name in names or ["victim", "blocked", "receiver"]:
            assert (directory / name / "identity.key").is_file()
            assert list((directory / name / "store").glob("*.nsnap")), name
            assert f"{directory / name / 'store'}" in run.stdout
    assert not (directory / "peer4").exists()
    report = "\n".join(line for line in run.stdout.splitlines() if not line.startswith("- "))
    assert (directory / "report.txt").read_text() == report + "\n"
    # Under the default failure threshold the blocked peer found the victim down (refused at
    # every dial), and kept probing it: the refusals after the restart above are its probes.
    victim, blocked = (latest(directory / name / "store") for name in ("victim", "blocked"))
    governor = blocked.framework.peer_governor
    assert governor.failure_threshold == PeerGovernor().failure_threshold
    (health,) = (h for h in governor.health if h.peer_id == victim.framework.peer_id_bytes)
    assert health.down


def latest(store: Path) -> TransientSnapshot:
    with DirectoryStore(store, read_only=True) as reader:
        found = reader.latest()
    assert found is not None
    return found.snapshot


def processes_using(directory: Path) -> list[str]:
    """The command lines of running processes that name `directory` (the demo's nodes do)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile, or not a process
            continue
        if str(directory) in command:
            found.append(command)
    return found


def test_ctrl_c_stops_the_demo_with_a_line_naming_the_phase_it_interrupted(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "demo"
    with subprocess.Popen(
        [sys.executable, "-m", "node_runtime", "demo", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        # Each phase is printed as it starts: the second arrives while the run goes on.
        shown = [process.stdout.readline(), process.stdout.readline()]
        assert shown[1].startswith("- round 1: ")
        process.send_signal(signal.SIGINT)
        rest, error = process.communicate(timeout=60)
    assert process.returncode == 128 + 2
    phases = [line.removesuffix("\n") for line in [*shown, *rest.splitlines(keepends=True)]]
    assert all(phase.startswith("- ") for phase in phases), rest  # no report
    assert error == (
        f'nodesnap: interrupted: the demo stopped in the phase "{phases[-1][2:]}" and killed '
        f"its nodes — their data and logs are in {directory}\n"
    )
    assert processes_using(directory) == []
    assert not (directory / "report.txt").exists()


def test_demo_without_the_libp2p_extra_says_how_to_install_it(tmp_path: Path) -> None:
    hide_libp2p = (
        "import sys; sys.modules['libp2p'] = None; "
        "from node_runtime.cli.main import main; "
        f"sys.exit(main(['demo', '--dir', {str(tmp_path / 'demo')!r}]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", hide_libp2p], capture_output=True, text=True, check=False
    )
    assert run.returncode == 1
    assert "nodesnap demo runs py-libp2p nodes, which are not installed" in run.stderr
    assert "pip install 'nodesnap[libp2p]'" in run.stderr


def test_demo_refuses_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    run = demo("--dir", str(tmp_path))
    assert run.returncode == 1
    assert "was not made by `nodesnap demo`" in run.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def passing() -> Measurements:
    """Measurements as a good run makes them (times in ns, the kill at 100 s)."""
    me, receiver, blocked = "12D3KooWvictim", "12D3KooWreceiver", "12D3KooWblocked"
    expected = frozenset({(me, receiver, 10), (me, receiver, 11), (receiver, me, 5)})
    return Measurements(
        directory=Path("/data"),
        stores=(("victim", Path("/data/victim/store")), ("blocked", Path("/data/b/store"))),
        seconds=3.5,
        kill_status=-9,
        killed_at_ns=100 * S,
        restarted_at_ns=103 * S,
        confirmed_generation=3,
        restored_generation=3,
        peer_before=me,
        peer_after=(me,),
        senders_after=(me,),
        ids_before=(("command", (0, 1, 2)), ("exec", (0, 1)), ("envelope seq", (10, 11))),
        ids_after=(("command", (3, 4)), ("exec", (2,)), ("envelope seq", (12,))),
        blocked_in_restored_policy=True,
        sent_by_blocked_after_block=3,
        delivered_from_blocked_after_block=0,
        blocked_dials_after_restart=4,
        blocked_connections_after_restart=0,
        refused_at_connect_after_restart=4,
        backoff_deadline_ns=105 * S,
        dials_before_kill=(99 * S,),
        dials_after_restart=(105 * S + 1,),
        expiry_ns=101 * S,
        expiring_dials_before_kill=(99 * S,),
        expiring_dials_after_restart=(),
        expiring_addresses_restored=0,
        peers_to_reach=(receiver,),
        peers_dialled=(receiver,),
        peers_reached=(receiver,),
        addresses_told_after_restart=0,
        records_saved=((blocked, 7), (receiver, 8)),
        records_restored=((blocked, 7), (receiver, 8)),
        pending=(10, 11),
        pending_delivered_after_restart=(10, 11),
        expected=expected,
        delivered=tuple(sorted(expected)),
        resent=(5,),
        duplicates_dropped_by_victim=1,
    )


def test_a_passing_run_exits_zero() -> None:
    checks = judge(passing())
    assert [check.passed for check in checks] == [True] * CHECKS
    assert exit_status(checks) == 0


@pytest.mark.parametrize(
    ("change", "failing"),
    [
        ({"peer_after": ("12D3KooWother",)}, "same PeerId"),
        ({"senders_after": ("12D3KooWother",)}, "same PeerId"),
        ({"restored_generation": None}, "same PeerId"),
        ({"ids_after": (("command", (2, 3)), ("exec", (2,)), ("envelope seq", (12,)))}, "no ID"),
        ({"ids_after": (("command", (3,)), ("exec", ()), ("envelope seq", (12,)))}, "no ID"),
        ({"blocked_in_restored_policy": False}, "blocked peer"),
        ({"delivered_from_blocked_after_block": 1}, "blocked peer"),
        ({"blocked_dials_after_restart": 0}, "blocked PeerId"),
        ({"blocked_connections_after_restart": 1}, "blocked PeerId"),
        ({"refused_at_connect_after_restart": 0}, "blocked PeerId"),
        ({"dials_after_restart": (105 * S - 1,)}, "backoff"),
        ({"dials_after_restart": ()}, "backoff"),
        ({"backoff_deadline_ns": None}, "backoff"),
        ({"backoff_deadline_ns": 102 * S, "dials_after_restart": (104 * S,)}, "backoff"),
        ({"expiring_dials_after_restart": (104 * S,)}, "expired address"),
        ({"expiring_addresses_restored": 1}, "expired address"),
        ({"expiry_ns": 104 * S}, "expired address"),
        ({"expiry_ns": None}, "expired address"),
        ({"peers_dialled": ()}, "peers reached"),
        ({"peers_reached": ()}, "peers reached"),
        ({"addresses_told_after_restart": 1}, "peers reached"),
        ({"peers_to_reach": (), "peers_dialled": (), "peers_reached": ()}, "peers reached"),
        ({"records_restored": (("12D3KooWblocked", 7),)}, "signed peer records"),
        ({"records_restored": (("12D3KooWblocked", 7), ("12D3KooWreceiver", 6))}, "signed"),
        ({"records_saved": (), "records_restored": ()}, "signed peer records"),
        ({"pending_delivered_after_restart": (10,)}, "pending"),
        ({"pending": (), "pending_delivered_after_restart": ()}, "pending"),
        ({"delivered": passing().delivered[1:]}, "delivered exactly once"),
        ({"delivered": (*passing().delivered, passing().delivered[0])}, "delivered exactly once"),
        ({"resent": ()}, "delivered exactly once"),
        ({"duplicates_dropped_by_victim": 0}, "delivered exactly once"),
    ],
)
def test_a_failed_check_is_reported_and_exits_one(change: dict[str, Any], failing: str) -> None:
    measured = passing()
    checks = judge(attrs.evolve(measured, **change))
    assert [check.name for check in checks if not check.passed] == [
        check.name for check in checks if check.name.startswith(failing)
    ]
    assert len([check for check in checks if not check.passed]) == 1
    assert exit_status(checks) == 1
    lines = render(measured, checks)
    assert sum(line.startswith("FAIL") for line in lines) == 1
    assert f"{CHECKS - 1}/{CHECKS} checks passed" in "\n".join(lines)
