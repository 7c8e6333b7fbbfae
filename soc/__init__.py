"""soc: security-operations toolkit for a provincial information-security monitoring service."""

__version__ = "0.1.0"
