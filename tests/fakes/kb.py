"""A fake Tower KB: ``POST/GET {prefix}/api/articles``, ``GET {prefix}/api/articles/{id}``.

It honours ``Idempotency-Key`` (a repeated key returns the first article instead of creating another) so a test
can tell "delivered once" from "delivered twice"; ``posts`` counts every POST that reached it. The prefix
defaults to ``/kb`` as behind the studio's nginx.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from .server import FakeServer


@dataclass
class FakeKB(FakeServer):
    prefix: str = "/kb"
    articles: list[dict[str, Any]] = field(default_factory=list)
    posts: int = 0

    def __post_init__(self) -> None:
        self._by_key: dict[str, dict[str, Any]] = {}
        super().__post_init__()

    @property
    def base_url(self) -> str:
        return self.url + self.prefix

    def add_article(self, title: str, content: str, category: str = "general", tags: list[str] | None = None) -> int:
        article = {"id": len(self.articles) + 1, "title": title, "content": content, "category": category,
                   "tags": tags or []}
        self.articles.append(article)
        return article["id"]

    def routes(self, app: web.Application) -> None:
        p = self.prefix
        app.router.add_post(f"{p}/api/articles", self._create)
        app.router.add_get(f"{p}/api/articles", self._list)
        app.router.add_get(f"{p}/api/articles/{{id}}", self._get)

    async def _create(self, request: web.Request) -> web.StreamResponse:
        self.posts += 1
        body = await request.json()
        missing = [k for k in ("title", "content", "category") if not body.get(k)]
        if missing:
            return web.json_response({"detail": f"missing {missing}"}, status=422)
        key = request.headers.get("Idempotency-Key")
        if key and key in self._by_key:
            return web.json_response(self._by_key[key])
        article_id = self.add_article(body["title"], body["content"], body["category"], body.get("tags"))
        article = self.articles[article_id - 1]
        if key:
            self._by_key[key] = article
        return web.json_response(article)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        limit = int(request.query.get("limit", "1000"))
        return web.json_response([{k: a[k] for k in ("id", "title", "category", "tags")}
                                  for a in self.articles[:limit]])

    async def _get(self, request: web.Request) -> web.StreamResponse:
        try:
            article = self.articles[int(request.match_info["id"]) - 1]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        return web.json_response(article)
