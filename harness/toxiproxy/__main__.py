"""`python -m harness.toxiproxy` = the `toxiproxy-server` command."""

from harness.toxiproxy.server import main

raise SystemExit(main())
