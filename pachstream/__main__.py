"""``python -m pachstream`` is the ``pachstream`` command."""

from pachstream.cli import main

main()
