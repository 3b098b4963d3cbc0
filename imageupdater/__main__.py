"""`python -m imageupdater` is the same program as the `imageupdater` script."""

from imageupdater.cli import main

main()
