"""The fuzz campaign's results in fuzz/README.md were measured on the fuzzed code as it is: a
change to any source file the harnesses import makes this fail until the campaign runs again
(`python -m fuzz.campaign`), so the recorded evidence never silently describes older code."""

from fuzz import campaign


def test_the_recorded_campaign_ran_on_the_current_fuzzed_code() -> None:
    recorded = campaign.recorded_digest(campaign.README.read_text())
    assert recorded is not None, "no campaign recorded: run `python -m fuzz.campaign`"
    assert recorded == campaign.fuzzed_code_digest(), (
        "fuzzed code changed since the recorded campaign: run `python -m fuzz.campaign` and "
        "commit the new table in fuzz/README.md"
    )


def test_the_digest_covers_the_decoder_the_parsers_and_the_harnesses() -> None:
    sources = {path.as_posix() for path in campaign.fuzzed_sources()}
    assert {
        "snapshot_schema/decoder.py",
        "node_runtime/sealed_file.py",
        "node_runtime/multiaddr.py",
        "node_runtime/peer_id.py",
        "node_runtime/node.py",
        "fuzz/fuzz_restore.py",
    } <= sources
