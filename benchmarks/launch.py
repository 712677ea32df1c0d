"""Start ``serverops`` as its CLI does, with one benchmark-only change to kopf's timing.

With ``SERVEROPS_BENCH_KEEPALIVE=S`` in the environment, kopf's cap on how long a held
handler sleeps before it wakes up (10 minutes in kopf 1.45,
``kopf._core.actions.application.WAITING_KEEPALIVE_INTERVAL``) becomes S seconds, so a
window of a minute covers several wake-ups of a held deletion. Nothing else changes;
without the variable this is exactly ``serverops``.
"""

import os

from serverops.cli import main

if __name__ == "__main__":
    keepalive = os.environ.get("SERVEROPS_BENCH_KEEPALIVE")
    if keepalive:
        # NOTE: a kopf internal; checked against kopf 1.45.2 only.
        from kopf._core.actions import application

        application.WAITING_KEEPALIVE_INTERVAL = float(keepalive)
    main()
