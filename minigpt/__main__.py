"""``python -m minigpt ...`` runs the command line interface (see ``minigpt.cli``)."""

from minigpt.cli import main

raise SystemExit(main())
