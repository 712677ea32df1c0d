"""Allow ``python -m serverops``, the same as the ``serverops`` command."""

from serverops.cli import main

main()
