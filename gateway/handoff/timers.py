"""The queue's clock (pure): when a handed-off conversation should wake up next, whether it is
abandoned, and the re-announcement of a handoff nobody has claimed.

The scheduler (``gateway.handoff.ticker``) only wakes conversations up; the desk asks this
module what the wake-up means, in the conversation's own turn.
"""

from __future__ import annotations

from gateway.handoff import card as cards
from gateway.handoff.hours import BusinessHours
from gateway.handoff.posts import DeskTurn, Keys, Posts
from gateway.handoff.state import HandoffState, with_handoff
from gateway.sessions import Session
from gateway.settings import HandoffSettings


class Timers:
    def __init__(self, settings: HandoffSettings, hours: BusinessHours, posts: Posts) -> None:
        self.settings = settings
        self.hours = hours
        self.posts = posts

    def next_due(self, state: HandoffState) -> float:
        """When the scheduler should wake the conversation up next."""
        abandon = self.abandon_at(state)
        if state.state != "queued":
            return abandon
        announce = state.announced_at + self.settings.reannounce_after
        opens = self.hours.next_open(announce) or abandon
        return min(abandon, max(announce, opens))

    def abandon_at(self, state: HandoffState) -> float:
        since = state.last_activity
        if state.state == "queued":  # silence outside business hours does not count
            since = self.hours.next_open(since) or since
        return since + self.settings.abandon_after

    def abandoned(self, state: HandoffState, now: float) -> bool:
        return now >= self.abandon_at(state)

    def reannounce(self, session: Session, state: HandoffState, keys: Keys, now: float) -> DeskTurn:
        """Announce an unclaimed handoff again, if it is due and agents are there."""
        due = state.announced_at + self.settings.reannounce_after
        if state.state != "queued" or now < due or not self.hours.is_open(now):
            return DeskTurn(session)
        state = state.replace(announced_at=now, announces=state.announces + 1)
        session = with_handoff(session, state)
        text = (
            f"Still waiting for an agent: {cards.customer_name(session, state)} on "
            f"{self.posts.label(state.conversation.channel)}, for "
            f"{cards.duration(now - state.at)}. Press Claim on the card to take it."
        )
        outbound = [
            self.posts.card(keys(), session, state, now),
            self.posts.slack(
                keys(), state, "thread", text, broadcast=True, mention=self.settings.mention or None
            ),
        ]
        return DeskTurn(session, outbound)
