"""Limit/offset paging read from a request's query string, never above the API's limit of 100."""

from dataclasses import dataclass

PAGE_SIZES = (10, 25, 50, 100)


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int

    @classmethod
    def from_request(cls, request, *, default_limit: int = 25) -> "PageParams":
        limit = _int(request.GET.get("limit"), default_limit)
        limit = min(limit, 100) if limit > 0 else default_limit
        offset = max(_int(request.GET.get("offset"), 0), 0)
        return cls(limit=limit, offset=offset)

    def pager(self, request, page) -> dict:
        """Links to the previous and next pages, keeping the other query parameters."""

        def link(offset: int) -> str:
            query = request.GET.copy()
            query["offset"] = str(offset)
            query["limit"] = str(self.limit)
            return "?" + query.urlencode()

        has_next = bool(page is not None and page.has_next)
        return {
            "previous": link(max(self.offset - self.limit, 0)) if self.offset > 0 else None,
            "next": link(page.next_offset if page.next_offset is not None else self.offset + self.limit)
            if has_next
            else None,
            "first_item": self.offset + 1 if page and page.items else 0,
            "last_item": self.offset + len(page.items) if page else 0,
            "total": page.total if page else None,
            "page_sizes": PAGE_SIZES,
            "limit": self.limit,
        }
