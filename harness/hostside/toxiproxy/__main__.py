"""`python -m harness.hostside.toxiproxy` = the `toxiproxy-server` command."""

from harness.hostside.toxiproxy.server import main

raise SystemExit(main())
