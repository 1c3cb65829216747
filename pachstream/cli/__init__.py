"""The ``pachstream`` command line, in the style of ``pachctl``.

Commands live in one module per noun (``_stack``, ``_repo``, ``_file``...). Each registers on
the shared Typer apps defined in ``_app``. Errors of the :mod:`pachstream.errors` tree print as
one line on stderr and exit with code 1.
"""

from pachstream.cli._app import app, main

__all__ = ["app", "main"]
