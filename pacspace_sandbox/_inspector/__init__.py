"""The sandbox inspector: what your code recorded, in a browser.

Server-rendered pages (Starlette's Jinja2 templates) at ``/`` behind the dashboard login:
customers, a customer's deltas with live status, derived balances, checkpoints and
receipts, summaries by window, webhook deliveries, plan usage. Every asset is served by
the sandbox itself.
"""

from ._pages import routes

__all__ = ["routes"]
