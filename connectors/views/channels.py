"""Alert channels: add, send test, rotate the signing secret, remove (issue 11)."""

urlpatterns: list = []
