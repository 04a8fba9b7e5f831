"""Workpool demo: email delivery and page scraping against local services.

Run it with ``python -m demo``. It starts a Workpool server, an SMTP sink and
a small website on 127.0.0.1, runs workers for both pools, shows progress and
checks that every work item ended as expected. Then it keeps running with a
trickle of work until Ctrl-C, unless ``--once`` is given.
"""
