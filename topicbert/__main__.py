"""python -m topicbert: the command line (topicbert/cli.py)."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
