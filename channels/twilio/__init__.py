"""SMS/MMS and WhatsApp through Twilio: the adapter (``adapter``), its pure webhook side
(``inbound``), its rendering and REST client (``outbound``) and Twilio's error codes (``codes``).
"""

from channels.twilio.adapter import EMPTY_TWIML, INBOUND_PATH, STATUS_PATH, TwilioChannel

__all__ = ["EMPTY_TWIML", "INBOUND_PATH", "STATUS_PATH", "TwilioChannel"]
