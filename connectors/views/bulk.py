"""bulk (issue 12)."""

urlpatterns: list = []
