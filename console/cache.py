"""Django's Redis cache, with one redis.Redis per connection pool instead of one per command.

Django's RedisCacheClient builds a new ``redis.Redis`` for every command it sends; redis-py 6+ registers about 170
response callbacks in each one, which cost more than the round trip to a local Redis (0.2-0.4 ms a command; a
status poll sends several). ``redis.Redis`` is thread-safe (each command borrows a connection from the pool), so one
per pool serves every thread of the process; redis-py's pool notices a fork and opens new connections in the child.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(self._servers[index], **self._pool_options)
            client = self._clients.setdefault(index, self._client(connection_pool=self._pools[index]))
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient
