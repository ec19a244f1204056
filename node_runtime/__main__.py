"""`python -m node_runtime`: the `nodesnap` command line."""

import sys

from node_runtime.cli.main import main

sys.exit(main())
