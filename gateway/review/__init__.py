"""The review inbox: messages the bot did not handle well, grouped for an admin to label and
apply to the NLU and FAQ data (docs/knowledge.md, "The learning loop")."""

from gateway.review.inbox import ReviewInbox, ReviewItem, normalise, review_inbox

__all__ = ["ReviewInbox", "ReviewItem", "normalise", "review_inbox"]
