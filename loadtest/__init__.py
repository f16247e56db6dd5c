"""The Locust load test of the console: `make loadtest` (run.py). Not shipped, like bench/ and sandbox/."""
