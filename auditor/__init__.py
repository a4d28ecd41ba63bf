"""calico-audit: a static auditor for Calico network policy."""

__version__ = "0.1.0"
