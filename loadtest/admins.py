"""Creates the load test's admins in the console's database, each with their own Aimable key stored, and signs
each one in: run with the console's settings and environment, before the load (loadtest/run.py does).

Reads {"admins": [{"username", "key"}], "password": ...} on stdin; writes {"cookie_name", "admins": [{"username",
"session"}]} on stdout. The first admin also gets the password, for one sign-in through the form.

The sessions are made the way the sign-in form makes them (django.contrib.auth.login, through the test client's
force_login) rather than by posting the form for every admin: a sign-in checks the password with PBKDF2, about a
quarter of a second of CPU here, and a hundred of them would spend half a minute of the run's two cores on sign-ins.
"""

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from connectors.models import ApiKey

    spec = json.load(sys.stdin)
    User = get_user_model()
    signed_in = []
    for i, admin in enumerate(spec["admins"]):
        user, _ = User.objects.get_or_create(username=admin["username"])
        if i == 0:
            user.set_password(spec["password"])
        else:
            user.set_unusable_password()
        user.save()
        ApiKey.objects.update_or_create(user=user, defaults={"secret": admin["key"]})
        client = Client()
        client.force_login(user, backend="connectors.auth.ConsoleBackend")
        signed_in.append({"username": user.username, "session": client.cookies[settings.SESSION_COOKIE_NAME].value})
    json.dump({"cookie_name": settings.SESSION_COOKIE_NAME, "admins": signed_in}, sys.stdout)


if __name__ == "__main__":
    main()
