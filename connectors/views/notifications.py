"""The Notifications page, watches, the bell, freshness and schedules (issue 11). Filled in by the UI work."""

urlpatterns: list = []
