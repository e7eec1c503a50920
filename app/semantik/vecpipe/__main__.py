"""`python -m semantik.vecpipe`: the same start as `semantik vecpipe`, for when the CLI is not installed."""

import sys

from semantik.shared.config import ConfigError, require
from semantik.vecpipe.main import serve

if __name__ == "__main__":
    try:
        serve(require("vecpipe"))
    except ConfigError as error:
        print(f"semantik vecpipe: {error}", file=sys.stderr)
        sys.exit(2)
