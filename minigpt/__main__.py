"""``python -m minigpt ...`` runs the command line interface (see ``minigpt.cli``)."""

try:
    from minigpt.cli import main  # imports torch: seconds, during which Ctrl-C should not print a traceback
except KeyboardInterrupt:
    raise SystemExit(130) from None

raise SystemExit(main())
