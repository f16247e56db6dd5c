"""Watches, alerts, channels and console-run schedules: the console that tells the admin when to look.

- ``models``: what is kept (watches, per-connector health, alerts, deliveries, channels, schedules, check rounds).
- ``checks``: one check round: reads Aimable with each watching admin's own key and turns changes of state into
  alerts, each alert once per watch.
- ``delivery``: sends an alert to a channel (email, Slack, Standard Webhooks), with leases and backoff.
- ``tasks``: the task engine's entry points (django-tasks with the database backend, ``manage.py alerts_worker``).
- ``services``/``selectors``: what the pages call.
"""
