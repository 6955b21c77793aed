"""``python -m genauth_guard`` is the ``genauth-guard`` command."""

import sys

from .cli import main

sys.exit(main())
