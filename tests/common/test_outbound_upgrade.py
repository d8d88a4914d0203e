"""Messages queued by the previous release (one OutboundMessage with a ``purpose``) are still
sent after an upgrade: they decode into the tagged union, a customer reply or a desk post."""

from __future__ import annotations

from common.messages import CustomerReply, DeskPost, decode_outbound

OLD_REPLY = (
    b'{"key":"e1#0","conversation":{"channel":"telegram","chat_id":"42","thread_id":null},'
    b'"customer":{"channel":"telegram","user_id":"42","display_name":null,"phone":null},'
    b'"text":"Hi","buttons":[{"title":"Yes","payload":"y"}],"attachments":[],'
    b'"in_reply_to":"e1","interaction_id":null,"window_closes_at":null,"purpose":"reply",'
    b'"card":null,"anchor":null,"target":null,"recipient":null,"reaction":null,"mention":null,'
    b'"broadcast":false,"relay_of":null,"max_attempts":null}'
)
OLD_THREAD_POST = (
    b'{"key":"e2#t","conversation":{"channel":"slack","chat_id":"C1","thread_id":null},'
    b'"customer":{"channel":"telegram","user_id":"42","display_name":null,"phone":null},'
    b'"text":"a note","buttons":[],"attachments":[],"in_reply_to":null,"interaction_id":null,'
    b'"window_closes_at":null,"purpose":"thread","card":null,"anchor":null,"target":null,'
    b'"recipient":null,"reaction":null,"mention":null,"broadcast":false,"relay_of":null,'
    b'"max_attempts":null}'
)


def test_a_queued_reply_of_the_previous_release_is_a_customer_reply() -> None:
    message = decode_outbound(OLD_REPLY)
    assert isinstance(message, CustomerReply)
    assert (message.key, message.text, message.in_reply_to) == ("e1#0", "Hi", "e1")
    assert [(b.title, b.payload) for b in message.buttons] == [("Yes", "y")]


def test_a_queued_thread_post_of_the_previous_release_is_a_desk_post() -> None:
    message = decode_outbound(OLD_THREAD_POST)
    assert isinstance(message, DeskPost)
    assert (message.key, message.text, message.conversation.chat_id) == ("e2#t", "a note", "C1")
