"""The SDK's version, read by packaging and sent in the User-Agent."""

__version__ = "0.2.0"
