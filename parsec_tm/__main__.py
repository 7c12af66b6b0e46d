"""`python -m parsec_tm` is the `parsec-tm` command."""

from parsec_tm.cli import main

raise SystemExit(main())
