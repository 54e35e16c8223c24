"""``python -m worker`` (and ``arbor worker``): run one worker process."""

from __future__ import annotations

import sys

from sync.logs import configure
from sync.settings import Settings

from .main import main


def run() -> int:
    settings = Settings.from_env()
    configure(settings.log_level, settings.log_format)
    if not settings.database_url or not settings.redis_url:
        print("arbor worker needs DATABASE_URL and REDIS_URL (`arbor dev` sets them for the "
              "workers it starts)", file=sys.stderr)
        return 2
    main(settings)
    return 0


if __name__ == "__main__":
    sys.exit(run())
