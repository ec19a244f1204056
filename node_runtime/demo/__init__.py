"""`nodesnap demo`: a few real nodes on loopback, one killed with SIGKILL and restored.

- `node_process`: one node, run as its own OS process: identity, store, autosave, `Host`;
  commands as JSON lines on stdin, events as JSON lines on stdout;
- `processes`: the orchestrator's handle on such a process (start, command, wait, kill);
- `scenario`: the run itself, and what it measured (`Measurements`);
- `report`: the checks judged from those measurements, and the printed report.
"""
