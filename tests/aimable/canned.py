"""Canned ids, payloads and a fake clock for the Aimable client tests."""

API_KEY = "sk-live-SUPERSECRET-4f3c2b1a9e8d"
BASE = "https://api.aimable.test/api-proxy"
SPACE = "7a5f3b1d-8e2c-4f1a-b9c0-1d2e3f4a5b6c"
COLLECTION = "9c8d7e6f-5a4b-3c2d-1e0f-2a3b4c5d6e7f"
CONNECTOR = "cc123abc-4d5e-6f7g-8h9i-jklmnopqrst"
SYNC = "sync456def-7g8h-9i1j-2k3l-mnopqrstuvw"
PREFIX = f"{BASE}/v1/spaces/{SPACE}/collections/{COLLECTION}/connectors"
CONNECTOR_URL = f"{PREFIX}/{CONNECTOR}"

CONNECTOR_JSON = {
    "id": CONNECTOR,
    "collection_id": COLLECTION,
    "provider_slug": "google-drive",
    "principal_id": "user123",
    "scope_config": {"folder_ids": ["1A2B3C4D"]},
    "status": "active",
    "created_at": "2023-10-01T12:00:00Z",
    "updated_at": "2023-10-01T12:00:00Z",
}
SYNC_JSON = {
    "id": SYNC,
    "collection_connector_id": CONNECTOR,
    "status": "running",
    "records_fetched": 0,
    "metadata": {},
    "created_at": "2023-10-01T12:05:00Z",
}


class FakeClock:
    """Monotonic time that only moves when the client sleeps or a test advances it."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds):
        self.now += seconds
