"""Test support: a real redis-server, fake platform servers, signed-request helpers."""
