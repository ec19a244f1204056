"""`python -m fuzz <target> [libFuzzer flags] [corpus dirs or files]`: run one harness,
instrumented (or use the `fuzz/run` wrapper, which libFuzzer can re-execute).

Targets: decode, sealed, multiaddr, peer_id, restore, decode_delta. Example (see
fuzz/README.md):

    fuzz/run decode -runs=1000000 -timeout=10 -rss_limit_mb=1024 -max_len=4096 \
        fuzz/work/decode fuzz/corpus/decode fuzz/regressions/decode
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fuzz import TARGETS
from fuzz._runner import load_instrumented

TARGET_VARIABLE = "NODESNAP_FUZZ_TARGET"
WRAPPER = Path(__file__).resolve().parent / "run"


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] in TARGETS:
        target, flags = args[0], args[1:]
    elif os.environ.get(TARGET_VARIABLE) in TARGETS:  # re-executed by libFuzzer
        target, flags = os.environ[TARGET_VARIABLE], args
    else:
        sys.exit(f"usage: python -m fuzz {{{','.join(TARGETS)}}} [libFuzzer flags] [corpus dirs]")
    os.environ[TARGET_VARIABLE] = target
    module = load_instrumented(target)
    module.main([str(WRAPPER), *flags])


if __name__ == "__main__":
    main()
