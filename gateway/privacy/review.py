"""The review inbox (gateway/review/inbox.py) as a customer data source.

An item of the inbox is a message the bot did not understand, with its latest wording and the
ids of up to five recent conversations that said it. An item whose conversations include one of
the customer's keys is theirs: exported with its wording and counts, and erased whole (its
wording may be the customer's own words, so only removing the conversation id is not enough).
Found through the inbox's index (``fd:{review}:index``), no SCAN.
"""

from __future__ import annotations

from typing import Any

from gateway.privacy.core import Context, Customer, _delete, _s
from gateway.review.inbox import RedisReviewInbox

INBOX = RedisReviewInbox


class ReviewInboxSource:
    name = "review_inbox"

    async def _mine(self, ctx: Context, customer: Customer) -> list[str]:
        ids = [_s(i) for i in await ctx.redis.zrange(INBOX.INDEX, 0, -1)]
        if not ids:
            return []
        async with ctx.redis.pipeline(transaction=False) as pipe:
            for ident in ids:
                pipe.lrange(INBOX.CONVS + ident, 0, -1)
            convs = await pipe.execute()
        keys = set(customer.keys)
        return [i for i, c in zip(ids, convs, strict=True) if keys & {_s(x) for x in c}]

    async def export(self, ctx: Context, customer: Customer) -> Any:
        out = []
        for ident in await self._mine(ctx, customer):
            fields = await ctx.redis.hgetall(INBOX.ITEM + ident)
            item = {_s(k): _s(v) for k, v in fields.items()}
            out.append({"id": ident, **{k: v for k, v in item.items() if k != "guesses"}})
        return out

    async def erase(self, ctx: Context, customer: Customer) -> int:
        mine = await self._mine(ctx, customer)
        for ident in mine:
            await ctx.redis.zrem(INBOX.INDEX, ident)
        await _delete(ctx.redis, [INBOX.ITEM + i for i in mine] + [INBOX.CONVS + i for i in mine])
        return len(mine)
