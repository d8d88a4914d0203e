"""Customers' data requests and retention: who a customer is and the source contract
(``core``), the built-in sources (``sources``, ``review``), export and erase (``requests``),
and the retention sweep (``retention``). The command: frontdesk/commands/customer.py."""

from gateway.privacy.core import Customer, CustomerDataSource, register, resolve
from gateway.privacy.requests import Erasure, erase_customer, erasures, export_customer

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
