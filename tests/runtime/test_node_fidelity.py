"""Fidelity, proven: a node restored at random points behaves exactly like the original.

A hypothesis state machine (`NodeMachine`, the one hosts get) drives a node with random
operations. At random points it snapshots the node, goes through `encode`/`decode`, restores,
and from then on feeds the original and the restored node the same operations. Their snapshots
stay equal (but for the documented `redelivered` flag on envelopes that were queued at restore),
their answers agree, and the restored node never mints an ID the original had already minted.
"""

import random

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from node_runtime.node import Node
from node_runtime.testing import (
    Operation,
    Outcome,
    apply_operation,
    assert_restores_identically,
    mark_redelivered,
)
from node_runtime.testing.strategies import DEFAULT_PEERS, NodeMachine


class NodeFidelity(NodeMachine):
    def __init__(self) -> None:
        super().__init__()
        self.restored: Node | None = None
        self.minted_before_restore: set[tuple[str, object]] = set()
        self.minted: set[tuple[str, object]] = set()
        self.redelivered = 0

    def apply(self, operation: Operation) -> Outcome:
        """Apply to every live node (each advances its own clock); all must agree."""
        outcome = super().apply(operation)
        if self.restored is not None:
            assert apply_operation(self.restored, operation) == outcome
        if operation.name == "pop" and outcome.refused is None and self.redelivered:
            self.redelivered -= 1
        if operation.name.startswith("mint_"):
            minted = (operation.name, outcome.value)
            assert minted not in self.minted_before_restore or self.restored is None
            self.minted.add(minted)
        return outcome

    @rule(seed=st.integers(0, 2**32))
    def restart(self, seed: int) -> None:
        # Same seed on both sides: jitter drawn after the restart must agree too.
        self.node.rng.seed(seed)
        self.restored = assert_restores_identically(self.node, rng=random.Random(seed))
        self.minted_before_restore = set(self.minted)
        self.redelivered = len(self.node.outbound)

    @precondition(lambda self: self.restored is not None)
    @invariant()
    def snapshots_and_answers_agree(self) -> None:
        original, restored = self.node, self.restored
        assert restored is not None
        assert restored.snapshot() == mark_redelivered(original.snapshot(), self.redelivered)
        for peer in DEFAULT_PEERS:
            assert original.may_dial(peer) == restored.may_dial(peer)


NodeFidelity.TestCase.settings = settings(max_examples=100, stateful_step_count=40)
test_node_fidelity = NodeFidelity.TestCase
