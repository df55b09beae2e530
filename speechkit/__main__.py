"""`python -m speechkit` is the `speechkit` command."""

from .cli import main

if __name__ == "__main__":
    main()
