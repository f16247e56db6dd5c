"""Django's Redis cache, with one redis.Redis per server for the whole process instead of one per command.

Django's RedisCacheClient builds a new ``redis.Redis`` for every command it sends; redis-py 6+ registers about 170
response callbacks in each one, which cost more than the round trip to a local Redis (0.2-0.4 ms a command; a
status poll sends several). And Django keeps one cache object per thread, each with pools of its own: every thread
that touches the cache opened its own connections, so a request's short-lived threads (the connector list's cells,
read side by side) each connected to Redis afresh (a connection and a SELECT per cell; the load test counted 40 a
second). ``redis.Redis`` is thread-safe (each command borrows a connection from the pool), so one per server and
options serves every thread of the process; redis-py's pool notices a fork and opens new connections in the child.
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[tuple[str, str], object] = {}  # redis.Redis by (server, pool options): one per process
_clients_lock = threading.Lock()


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            server = self._servers[index]
            shared = (server, repr(sorted(self._pool_options.items())))
            with _clients_lock:
                client = _clients.get(shared)
                if client is None:
                    pool = self._pool_class.from_url(server, **self._pool_options)
                    client = _clients[shared] = self._client(connection_pool=pool)
            self._clients[index] = client
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient
