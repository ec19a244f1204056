"""Typed, immutable records of a node's runtime state, their canonical msgpack codec, and the
spec-version gate. Pure data: no clocks, files or sockets.

    >>> from snapshot_schema import ClockReading, FrameworkSnapshot, TransientSnapshot
    >>> from snapshot_schema import decode, encode
    >>> snapshot = TransientSnapshot(
    ...     taken_at=ClockReading(monotonic_ns=5_000, wall_ns=1_700_000_000_000_000_000),
    ...     framework=FrameworkSnapshot(peer_id_bytes=bytes.fromhex("1220") + bytes(32)),
    ... )
    >>> decode(encode(snapshot)) == snapshot
    True
"""

from snapshot_schema.body_builder import build_framework, build_framework_trusted
from snapshot_schema.decoder import DEFAULT_MAX_SNAPSHOT_SIZE, decode, spec_version_of
from snapshot_schema.delta_apply import apply
from snapshot_schema.delta_decoder import decode_delta, delta_spec_version_of
from snapshot_schema.delta_diff import diff
from snapshot_schema.delta_encoder import (
    delta_digest,
    encode_changes,
    encode_delta,
    make_delta,
    root_ref,
    root_ref_of_encoded,
    root_state,
)
from snapshot_schema.delta_merge import merge
from snapshot_schema.delta_records import (
    DELTA_FIELDS,
    DELTA_SPEC_VERSION,
    Change,
    DeltaApplyError,
    DeltaBaseMismatchError,
    DeltaField,
    FieldKind,
    FullSnapshotNeeded,
    Patch,
    Replace,
    SnapshotDelta,
    Splice,
    StateRef,
    VersionedSnapshot,
)
from snapshot_schema.encoder import encode
from snapshot_schema.errors import (
    IncompatibleDeltaVersion,
    IncompatibleSnapshotVersion,
    PathElement,
    SnapshotDecodeError,
    SnapshotError,
    SnapshotValueError,
    render_path,
)
from snapshot_schema.execution_records import (
    INGRESS_TYPES,
    AppEventIngress,
    CompletionIngress,
    EnvelopeIngress,
    ExecutionStateSnapshot,
    IngressEvent,
    InvokeIngress,
    PendingAsyncSnapshot,
    PendingCompletionSnapshot,
    TimerMaturedIngress,
    TypedBusSnapshot,
)
from snapshot_schema.framework_records import (
    AddressBookEntrySnapshot,
    BackoffEntry,
    ClockReading,
    FrameworkSnapshot,
    PeerGovernorSnapshot,
    PeerHealthSnapshot,
    PeerRecordSnapshot,
    PendingOutboundEntry,
)
from snapshot_schema.frozen_map import FrozenMap
from snapshot_schema.ip_network import IpNetwork
from snapshot_schema.migrations import MIGRATIONS, MigrationRegistry, Upgrade
from snapshot_schema.multihash import is_multihash, multihash_problem
from snapshot_schema.peer_record_checks import (
    KEY_TYPES,
    MetadataValue,
    check_extension_name,
    check_metadata,
    check_protocols,
    check_public_key,
    metadata_value_problem,
    public_key_problem,
)
from snapshot_schema.record_table import RecordTable
from snapshot_schema.transient import TransientSnapshot
from snapshot_schema.version import CURRENT_SNAPSHOT_SPEC_VERSION

__all__ = [
    "CURRENT_SNAPSHOT_SPEC_VERSION",
    "DEFAULT_MAX_SNAPSHOT_SIZE",
    "DELTA_FIELDS",
    "DELTA_SPEC_VERSION",
    "INGRESS_TYPES",
    "KEY_TYPES",
    "MIGRATIONS",
    "AddressBookEntrySnapshot",
    "AppEventIngress",
    "BackoffEntry",
    "Change",
    "ClockReading",
    "CompletionIngress",
    "DeltaApplyError",
    "DeltaBaseMismatchError",
    "DeltaField",
    "EnvelopeIngress",
    "ExecutionStateSnapshot",
    "FieldKind",
    "FrameworkSnapshot",
    "FrozenMap",
    "FullSnapshotNeeded",
    "IncompatibleDeltaVersion",
    "IncompatibleSnapshotVersion",
    "IngressEvent",
    "InvokeIngress",
    "IpNetwork",
    "MetadataValue",
    "MigrationRegistry",
    "Patch",
    "PathElement",
    "PeerGovernorSnapshot",
    "PeerHealthSnapshot",
    "PeerRecordSnapshot",
    "PendingAsyncSnapshot",
    "PendingCompletionSnapshot",
    "PendingOutboundEntry",
    "RecordTable",
    "Replace",
    "SnapshotDecodeError",
    "SnapshotDelta",
    "SnapshotError",
    "SnapshotValueError",
    "Splice",
    "StateRef",
    "TimerMaturedIngress",
    "TransientSnapshot",
    "TypedBusSnapshot",
    "Upgrade",
    "VersionedSnapshot",
    "apply",
    "build_framework",
    "build_framework_trusted",
    "check_extension_name",
    "check_metadata",
    "check_protocols",
    "check_public_key",
    "decode",
    "decode_delta",
    "delta_digest",
    "delta_spec_version_of",
    "diff",
    "encode",
    "encode_changes",
    "encode_delta",
    "is_multihash",
    "make_delta",
    "merge",
    "metadata_value_problem",
    "multihash_problem",
    "public_key_problem",
    "render_path",
    "root_ref",
    "root_ref_of_encoded",
    "root_state",
    "spec_version_of",
]
