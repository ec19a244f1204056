"""The runtime state of a node: identity, peers, policy, backoff, queues; sans-I/O components."""
