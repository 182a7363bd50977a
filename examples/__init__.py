"""Example services built on proxy-async: ``python -m examples.aiohttp_app --fake``."""
