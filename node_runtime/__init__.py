"""The state a networked node keeps, as working sans-I/O components, and `Node` with exact
`snapshot()` / `Node.restore()`.

    >>> from node_runtime import Identity, ManualClock, Node
    >>> from snapshot_schema import decode, encode
    >>> identity = Identity.from_private_bytes(bytes(32))
    >>> clock = ManualClock(monotonic_ns=10**12, wall_ns=1_764_000_000 * 10**9)
    >>> node = Node(identity, clock=clock)
    >>> node.command_ids.mint()
    0
    >>> restored = Node.restore(decode(encode(node.snapshot())), identity, clock=clock)
    >>> restored.command_ids.mint()
    1
"""

from node_runtime.address_book import DEFAULT_MAX_ADDRESSES_PER_PEER, AddressBook
from node_runtime.backoff import BackoffPolicy, BackoffState, BackoffTable
from node_runtime.change_counter import ChangeCounter
from node_runtime.checkpointer import (
    DEFAULT_COOLDOWN_S,
    DEFAULT_INTERVAL_S,
    DEFAULT_MINT_TIMEOUT_S,
    DEFAULT_TIMEOUT_S,
    Checkpointer,
)
from node_runtime.clock import Clock, ManualClock, SystemClock
from node_runtime.component_errors import (
    AddressLimitError,
    ComponentError,
    ComponentTypeError,
    ComponentValueError,
    ExtensionLimitError,
    IdExhaustedError,
    IdsNotDurableError,
    NoAllowlistError,
    PeerRecordLimitError,
    QueueEmptyError,
    QueueFullError,
    RefCountOverflowError,
    RefCountUnderflowError,
    RestoreValueError,
    SaveMarkError,
)
from node_runtime.counters import Counters
from node_runtime.directory_store import (
    DEFAULT_JOURNAL_MAX_DELTAS,
    DEFAULT_KEEP_LAST,
    MIN_JOURNAL_MAX_BYTES,
    DirectoryStore,
)
from node_runtime.errors import (
    IdentityKeyError,
    InvalidMultiaddrError,
    InvalidPeerIdError,
    PeerIdMismatchError,
)
from node_runtime.execution import InFlightExecution
from node_runtime.extensions import DEFAULT_MAX_EXTENSION_BYTES, ExtensionTable
from node_runtime.id_allocator import IdAllocator, ReservationKeeper
from node_runtime.identity import Identity, verify
from node_runtime.lifecycle import LifecycleQueue
from node_runtime.multiaddr import Multiaddr
from node_runtime.node import Node
from node_runtime.outbound import OutboundQueue, PendingEnvelope
from node_runtime.peer_governor import Decision, GovernorChanges, IpList, PeerGovernor, PeerHealth
from node_runtime.peer_id import PeerId
from node_runtime.peer_key import PeerKey, PeerRef
from node_runtime.peer_records import (
    DEFAULT_MAX_METADATA_PER_PEER,
    DEFAULT_MAX_METADATA_VALUE_SIZE,
    DEFAULT_MAX_NAME_SIZE,
    DEFAULT_MAX_PROTOCOLS_PER_PEER,
    DEFAULT_MAX_SIGNED_RECORD_SIZE,
    PeerRecordBook,
    PeerRecordLimits,
)
from node_runtime.rebase import DEFAULT_RESTART_STAGGER_NS, Rebase
from node_runtime.replication_plan import Lag, replication_lag
from node_runtime.sealed_file import (
    CONTAINER_VERSION,
    MAGIC,
    MAX_HEADER_BYTES,
    Flags,
    SealedDelta,
    SealedHeader,
    SealedSnapshot,
    looks_sealed,
    read_header,
    seal,
    seal_delta,
    seal_encoded,
    unseal,
    unseal_delta,
)
from node_runtime.signed_record import (
    MAX_SIGNED_RECORD_SIZE,
    SignedPeerRecord,
    SignedRecordError,
    sign_peer_record,
    verify_signed_peer_record,
)
from node_runtime.snapshot_store import (
    JournalState,
    JournalStore,
    SnapshotRef,
    SnapshotStore,
    StoredSnapshot,
)
from node_runtime.storage_errors import (
    AutosaveError,
    ContentKindError,
    CorruptFileError,
    DamagedFileError,
    DecompressionError,
    DecryptionError,
    EncryptionKeyError,
    EncryptionMissingError,
    HeaderMismatchError,
    InsecureStoreError,
    JournalBaseMismatchError,
    JournalFramingError,
    JournalFullError,
    NotRegularFileError,
    NotSealedFileError,
    SealedFileError,
    SignatureInvalidError,
    SignatureMissingError,
    SignerMismatchError,
    SnapshotNotFoundError,
    SnapshotTooLargeError,
    StoreError,
    StoreFullError,
    StoreLockedError,
    StoreReadError,
    StoreWriteError,
    TruncatedFileError,
    UnsupportedContainerError,
    UntrustedFileError,
    WriterConflictError,
)
from node_runtime.typed_bus import TypedBus

__all__ = [
    "CONTAINER_VERSION",
    "DEFAULT_COOLDOWN_S",
    "DEFAULT_INTERVAL_S",
    "DEFAULT_JOURNAL_MAX_DELTAS",
    "DEFAULT_KEEP_LAST",
    "DEFAULT_MAX_ADDRESSES_PER_PEER",
    "DEFAULT_MAX_EXTENSION_BYTES",
    "DEFAULT_MAX_METADATA_PER_PEER",
    "DEFAULT_MAX_METADATA_VALUE_SIZE",
    "DEFAULT_MAX_NAME_SIZE",
    "DEFAULT_MAX_PROTOCOLS_PER_PEER",
    "DEFAULT_MAX_SIGNED_RECORD_SIZE",
    "DEFAULT_MINT_TIMEOUT_S",
    "DEFAULT_RESTART_STAGGER_NS",
    "DEFAULT_TIMEOUT_S",
    "MAGIC",
    "MAX_HEADER_BYTES",
    "MAX_SIGNED_RECORD_SIZE",
    "MIN_JOURNAL_MAX_BYTES",
    "AddressBook",
    "AddressLimitError",
    "AutosaveError",
    "BackoffPolicy",
    "BackoffState",
    "BackoffTable",
    "ChangeCounter",
    "Checkpointer",
    "Clock",
    "ComponentError",
    "ComponentTypeError",
    "ComponentValueError",
    "ContentKindError",
    "CorruptFileError",
    "Counters",
    "DamagedFileError",
    "Decision",
    "DecompressionError",
    "DecryptionError",
    "DirectoryStore",
    "EncryptionKeyError",
    "EncryptionMissingError",
    "ExtensionLimitError",
    "ExtensionTable",
    "Flags",
    "GovernorChanges",
    "HeaderMismatchError",
    "IdAllocator",
    "IdExhaustedError",
    "Identity",
    "IdentityKeyError",
    "IdsNotDurableError",
    "InFlightExecution",
    "InsecureStoreError",
    "InvalidMultiaddrError",
    "InvalidPeerIdError",
    "IpList",
    "JournalBaseMismatchError",
    "JournalFramingError",
    "JournalFullError",
    "JournalState",
    "JournalStore",
    "Lag",
    "LifecycleQueue",
    "ManualClock",
    "Multiaddr",
    "NoAllowlistError",
    "Node",
    "NotRegularFileError",
    "NotSealedFileError",
    "OutboundQueue",
    "PeerGovernor",
    "PeerHealth",
    "PeerId",
    "PeerIdMismatchError",
    "PeerKey",
    "PeerRecordBook",
    "PeerRecordLimitError",
    "PeerRecordLimits",
    "PeerRef",
    "PendingEnvelope",
    "QueueEmptyError",
    "QueueFullError",
    "Rebase",
    "RefCountOverflowError",
    "RefCountUnderflowError",
    "ReservationKeeper",
    "RestoreValueError",
    "SaveMarkError",
    "SealedDelta",
    "SealedFileError",
    "SealedHeader",
    "SealedSnapshot",
    "SignatureInvalidError",
    "SignatureMissingError",
    "SignedPeerRecord",
    "SignedRecordError",
    "SignerMismatchError",
    "SnapshotNotFoundError",
    "SnapshotRef",
    "SnapshotStore",
    "SnapshotTooLargeError",
    "StoreError",
    "StoreFullError",
    "StoreLockedError",
    "StoreReadError",
    "StoreWriteError",
    "StoredSnapshot",
    "SystemClock",
    "TruncatedFileError",
    "TypedBus",
    "UnsupportedContainerError",
    "UntrustedFileError",
    "WriterConflictError",
    "looks_sealed",
    "read_header",
    "replication_lag",
    "seal",
    "seal_delta",
    "seal_encoded",
    "sign_peer_record",
    "unseal",
    "unseal_delta",
    "verify",
    "verify_signed_peer_record",
]
