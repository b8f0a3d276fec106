"""``python -m minigpt ...`` runs the command line interface (see ``minigpt.cli``)."""

import signal

# Importing the CLI and the recipes its parser lists imports torch and the model: a second or more. A Ctrl-C
# landing inside torch's own import code can be swallowed there (the run then starts anyway), abort the process
# from C++, or end it with SIGINT's exit status even though Python caught the KeyboardInterrupt. So SIGINT is
# held back (blocked) until these imports are done; one pressed meanwhile arrives when it is unblocked, as an
# ordinary KeyboardInterrupt, and exits quietly with 130. Later the CLI's own handlers take Ctrl-C.
_HOLD_SIGINT = hasattr(signal, "pthread_sigmask")  # POSIX; elsewhere a Ctrl-C arrives when it is pressed
try:
    if _HOLD_SIGINT:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    import minigpt.recipes  # noqa: F401 - the parser's choices, imported while SIGINT waits
    from minigpt.cli import main
    if _HOLD_SIGINT:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
except KeyboardInterrupt:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C during the exit's clean-up: no traceback
    raise SystemExit(130) from None

raise SystemExit(main())
