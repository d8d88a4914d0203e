"""WhatsApp Cloud API channel (``whatsapp_cloud``): Meta's webhooks in, Graph API out.

``adapter`` is the channel; ``inbound`` parses notifications, ``render`` builds the Graph
request bodies, ``errors`` classifies Graph failures for the outbox.
"""

from channels.whatsapp.adapter import SIGNATURE_HEADER, WhatsAppCloudChannel, signature_for

__all__ = ["SIGNATURE_HEADER", "WhatsAppCloudChannel", "signature_for"]
