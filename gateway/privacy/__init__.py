"""Customers' data requests and retention: export, erase (``core``), the registry's built-in
sources (``sources``, ``review``), the retention sweep (``retention``) and the
``frontdesk customer`` commands (``cli``)."""

from gateway.privacy.core import (
    Customer,
    CustomerDataSource,
    Erasure,
    erase_customer,
    erasures,
    export_customer,
    register,
    resolve,
)

__all__ = [
    "Customer",
    "CustomerDataSource",
    "Erasure",
    "erase_customer",
    "erasures",
    "export_customer",
    "register",
    "resolve",
]
