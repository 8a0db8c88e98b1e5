"""Blocking PacSpace, for scripts, notebooks, Django views and Celery tasks.

The same API as :mod:`pacspace_async`, without ``await``: every call runs on one shared
event-loop thread. Code written for the official ``pacspace-sdk`` runs with only the
import changed::

    from pacspace_sync import PacSpace

    pac = PacSpace.init(os.environ["PACSPACE_API_KEY"])
    emit = pac.balance.emit("cust_acme", -42.5, "compute_minutes", {"referenceId": "..."})

Everything here is generated from the async core (``python -m pacspace_sync._codegen``):
the client classes are blocking twins; errors, models and ``Webhooks`` are the async
package's own objects.
"""

from ._generated import *  # noqa: F403
from ._generated import __all__ as __all__
