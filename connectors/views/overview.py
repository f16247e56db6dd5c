"""overview (issue 12)."""

urlpatterns: list = []
