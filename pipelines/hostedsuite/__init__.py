"""The HostedSuite dlt source, one module per concern.

- ``source.py``: the decorated ``hostedsuite`` source and its resources (``calls`` with its
  child tables, ``centers``, ``clients``), and ``make_client``;
- ``client.py`` (HTTP, retries, redaction), ``paging.py``, ``windows.py``, ``backfills.py``,
  ``calls_page.py`` (a response parsed into Arrow), ``records.py`` (the rows made from it),
  ``timezones.py``, ``directory.py`` (centers), ``privacy.py``, ``content_hash.py``,
  ``call_keys.py`` (the key the DuckDB merge finds a call's rows by);
- ``settings.py``: routes, field names, defaults; ``arrow_types.py``: the Arrow types.

Unlike dlt's verified sources, this ``__init__`` defines nothing: Python runs a package's
``__init__`` before any of its modules, and the source needs PyArrow (about 50 MB and 0.2 s at
start). The commands that never read a page (``transform``, ``report``, ``sql``) import the
settings, the client's errors and the windows' time parsing, and start without it.
"""
