"""HostedSuite API emulator: a local, deterministic stand-in for the vendor's web service.

It serves ``POST /api/calls``, ``/api/centers`` and ``/api/clients`` like the ServiceStack service
documented in ``ListCallRecordsRequest``, can play every unconfirmed behaviour of that service
(:class:`EmulatorSettings`) and transport faults (:class:`Faults`), and tells tests what a correct
client must have loaded (:meth:`Emulator.truth`).

Choices made where the vendor documents nothing (each is pinned by ``tests/emulator``):

- ``CallType`` filters the ``Type`` field exactly (case-insensitive enum): ``Transfer`` calls match
  neither ``Incoming`` nor ``Outgoing``; null/absent selects every type; another value is a 400.
- ``MinCallDuration``/``MaxCallDuration`` of 0 mean "not set" (they are non-nullable doubles in the
  sample request, whose ``MaxCallDuration`` is 0).
- ``StartDate``/``EndDate`` with ``Z`` or an offset are absolute instants whatever
  ``window_zone`` says; without, they are wall times read as ``window_zone`` says (fold=0 for
  ambiguous times in a server-wide zone).
- ``SortField`` is case-insensitive: ``StartTime`` sorts by the true instant, ties by Id;
  ``Id``, an unknown field or none sorts by Id. ``Desc`` reverses the whole order.
- ``DateLastModified`` of centers and clients is served as UTC ``2023-11-03T10:15:00Z``.
- ``emu.requests`` logs every parsed ``/api/calls`` body received, faulted or refused ones too.
- ``edit_random`` edits calls that started in the last 24 hours of the clock.
- With 200+ calls, a few calls are placed in the hour before and after each DST change of each
  center, so the repeated fall-back hour (Sydney, 2024-04-07) is always exercised; at a
  fall-back one more call starts minutes before the change and ends after it, so its later
  events have wall times that occurred twice. The truth reads an event's offset-less wall time
  as the first occurrence not before its call's start (zoneinfo fold=0/fold=1).
- One answered call in 40 (by serial) is served with an empty ``AnsweredBy`` (talk time > 0).
- ``orphan_center_calls`` extra calls are served with a ``CenterId`` that ``/api/centers`` does
  not list (an unknown id, ``""``, null, in turn), with their client's center's wall times; the
  truth reads them in the client's default zone (``Emulator.truth(default_zone)``), and a
  ``CenterId`` filter never selects them.
- ``TimeZoneId`` in the Windows style comes from the emulator's own table
  (``reference.WINDOWS_ZONE_IDS``), not from the client's CLDR mapping.
"""

from .config import EmulatorSettings, Faults
from .emulator import Emulator, account_source_config, source_config_env
from .injected import BAD_KINDS, VALID_BAD_KINDS
from .truth import Truth

__all__ = [
    "BAD_KINDS",
    "VALID_BAD_KINDS",
    "Emulator",
    "EmulatorSettings",
    "Faults",
    "Truth",
    "account_source_config",
    "source_config_env",
]
