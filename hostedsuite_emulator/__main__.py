"""``python -m hostedsuite_emulator``: the same as the ``hostedsuite-emulator`` command."""

from .cli import main

raise SystemExit(main())
