"""Fixed reference data: centers, clients, agents and the pools calls are drawn from.

The reference data does not depend on the seed: ids of centers and clients stay stable across
emulators, which keeps test expectations readable. The centers were chosen so that the default
data range (2024-03-01 + 45 days) crosses the US DST start (Mar 10), the EU DST start (Mar 31)
and the Sydney DST end (Apr 7), with one zone that never shifts (Phoenix) and one half-hour
offset (Kolkata).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import cycle
from zoneinfo import ZoneInfo

# The Windows ids a .NET HostedSuite sends for the zones used here (Microsoft's time zone names,
# written out rather than taken from the CLDR table the client maps them with, so that the
# emulator does not share the client's mapping).
WINDOWS_ZONE_IDS = {
    "America/Chicago": "Central Standard Time",
    "America/Phoenix": "US Mountain Standard Time",
    "Europe/London": "GMT Standard Time",
    "Australia/Sydney": "AUS Eastern Standard Time",
    "Asia/Kolkata": "India Standard Time",
}


def stable_guid(name: str) -> str:
    """A GUID derived from a name, so reference ids never change between runs."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"hostedsuite-emulator:{name}"))


@dataclass(frozen=True, slots=True)
class Center:
    id: str
    name: str
    line1: str
    city: str
    state: str
    postal_code: str
    country: str
    iana: str
    support_email: str
    third_party_account_id: str | None
    date_last_modified: datetime
    server: str
    agents: tuple[str, ...]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.iana)

    @property
    def windows_id(self) -> str:
        return WINDOWS_ZONE_IDS[self.iana]


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    name: str
    center: Center
    third_party_account_id: str | None
    industry_id: str
    industry_name: str
    location: str
    call_allowance_type: str
    call_allowance_amount: float
    date_last_modified: datetime
    form_ids: tuple[str, ...]
    weight: float


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (key, name, line1, city, state, postal, country, iana, 3rd-party id, agents, share of calls)
_CENTERS = [
    (
        "chi",
        "Lakeshore Answering Chicago",
        "233 S Wacker Dr",
        "Chicago",
        "IL",
        "60606",
        "US",
        "America/Chicago",
        "QB-1001",
        ("María García", "James O'Connor", "Aisha Khan", "Tom Nguyen", "Zoë Brandt"),
        0.3,
    ),
    (
        "phx",
        "Desert Line Phoenix",
        "2 N Central Ave",
        "Phoenix",
        "AZ",
        "85004",
        "US",
        "America/Phoenix",
        "QB-1002",
        ("Carlos Peña", "Dana Whitehorse", "Lee Park"),
        0.15,
    ),
    (
        "lon",
        "Thames Reception London",
        "1 Canada Square",
        "London",
        "",
        "E14 5AB",
        "GB",
        "Europe/London",
        "XERO-77",
        ("Oliver Smith", "Siobhán Murphy", "Raj Patel", "Élodie Martin"),
        0.2,
    ),
    (
        "syd",
        "Harbour Desk Sydney",
        "1 Macquarie St",
        "Sydney",
        "NSW",
        "2000",
        "AU",
        "Australia/Sydney",
        "MYOB-5",
        ("Chloe Wilson", "Liam Nguyen", "Mia Rossi"),
        0.2,
    ),
    (
        "ccu",
        "Sahyadri Contact Kolkata",
        "Park Street 22",
        "Kolkata",
        "WB",
        "700016",
        "IN",
        "Asia/Kolkata",
        None,
        ("Ananya Sen", "Rohit Das", "Priya Iyer"),
        0.15,
    ),
]

_INDUSTRIES = [
    ("1", "Medical"),
    ("2", "Legal"),
    ("3", "Property Management"),
    ("4", "HVAC"),
    ("5", "Veterinary"),
]

# (center key, client name, industry index, allowance type, allowance, share within center)
_CLIENTS = [
    ("chi", "Northside Pediatrics", 0, "Monthly", 500.0, 0.4),
    ("chi", "Baker & Stein LLP", 1, "Monthly", 250.0, 0.3),
    ("chi", "Windy City HVAC", 3, "None", 0.0, 0.3),
    ("phx", "Saguaro Property Group", 2, "Monthly", 300.0, 0.5),
    ("phx", "Cactus Vet Clinic", 4, "PerCall", 1.25, 0.5),
    ("lon", "Mayfair Dental", 0, "Monthly", 400.0, 0.4),
    ("lon", "Fleet Street Solicitors", 1, "Monthly", 150.0, 0.35),
    ("lon", "Crème de la Crème Catering", 2, "None", 0.0, 0.25),
    ("syd", "Bondi Physio", 0, "Monthly", 350.0, 0.5),
    ("syd", "Opera Strata Managers", 2, "PerCall", 0.9, 0.5),
    ("ccu", "Howrah Diagnostics", 0, "Monthly", 800.0, 0.6),
    ("ccu", "Salt Lake Legal Aid", 1, "None", 0.0, 0.4),
]


def _build() -> tuple[list[Center], list[Client]]:
    centers: dict[str, Center] = {}
    for n, (key, name, line1, city, state, postal, country, iana, tp, agents, _) in enumerate(
        _CENTERS
    ):
        centers[key] = Center(
            id=stable_guid(f"center:{key}"),
            name=name,
            line1=line1,
            city=city,
            state=state,
            postal_code=postal,
            country=country,
            iana=iana,
            support_email=f"support+{key}@answering.example.com",
            third_party_account_id=tp,
            date_last_modified=_dt(f"2023-11-{n + 3:02d}T10:15:00"),
            server=f"HS-{key.upper()}-0{n % 3 + 1}",
            agents=agents,
        )
    clients = []
    for n, (ckey, name, ind, atype, amount, share) in enumerate(_CLIENTS):
        center = centers[ckey]
        clients.append(
            Client(
                id=stable_guid(f"client:{name}"),
                name=name,
                center=center,
                # One client without an accounting id: the API sends null for it.
                third_party_account_id=None if n == 4 else f"ACC-{1000 + n}",
                industry_id=_INDUSTRIES[ind][0],
                industry_name=_INDUSTRIES[ind][1],
                location=f"{center.city}, {center.country}",
                call_allowance_type=atype,
                call_allowance_amount=amount,
                date_last_modified=_dt(f"2024-01-{n + 5:02d}T08:30:00"),
                form_ids=tuple(stable_guid(f"form:{name}:{k}") for k in range(2 + n % 4)),
                weight=next(c[-1] for c in _CENTERS if c[0] == ckey) * share,
            )
        )
    return list(centers.values()), clients


CENTERS, CLIENTS = _build()

FIRST_NAMES = [
    "John",
    "Mary",
    "José",
    "Zoë",
    "Björn",
    "Siobhán",
    "Wei",
    "Fatima",
    "Kenji",
    "Olga",
    "Liam",
    "Ngozi",
    "Ana",
    "Dmitri",
    "Chloé",
    "Ahmed",
    "Priya",
    "Søren",
]
LAST_NAMES = [
    "Smith",
    "O'Brien",
    "Müller",
    "García",
    "Nguyen",
    "Kowalski",
    "Dubois",
    "Okafor",
    "Tanaka",
    "Ivanova",
    "Johnson",
    "Núñez",
    "Chen",
    "Al-Sayed",
    "Andersson",
    "Brown",
]
# Some callers only leave a company or a non-Latin name.
SPECIAL_CALLERS = ["田中 太郎", "ACME, Inc.", "Unknown", '"Big" Tony\'s Pizza', "Ëmïlÿ Çœur"]

NOTES = [
    "Caller asked for a callback tomorrow morning.",
    'Said "urgent", please call back ASAP.',
    "Left message: pipes burst, water everywhere, needs plumber, tonight",
    "Appointment moved to Tuesday,\n10:30 with Dr. Lee.",
    'Patient says the prescription "didn\'t arrive"; pharmacy, ref #4471.',
    "Rendez-vous confirmé pour la visite — merci, très aimable.",
    "Grüße an das Team; Rückruf bitte nach 14 Uhr.",
    "日本からのお問い合わせ。英語で折り返し希望。",
    "Happy customer 😀👍 wants a quote for 3 units.",
    'Multi-line note:\nline 1, with comma\nline 2 "quoted"\n\ttabbed line 3',
    "Wrong number.",
    "Caller hung up during greeting.",
    "Delivery driver at gate, code 1234#.",
    "Backslash \\ and slash / in note, plus 100% certainty.",
]
FLAG_NOTES = [
    "Caller upset about billing, escalate.",
    'Manager asked to "review this call".',
    "Possible emergency, verify follow-up.",
    "Quality review: greeting skipped, café policy.",
]
TRANSFER_TARGETS = [
    ("Dr. Lee", "+1 312-555-0142"),
    ("On-call Technician", "+1 602-555-0199"),
    ("Ms. Okafor (Partner)", "+44 20 7946 0018"),
    ("Emergency Line", "+61 2 5550 1234"),
    ("Duty Manager", "+91 33 5550 8899"),
]

# Names a careless admin or an attacker could give a center, a client or an agent
# (``EmulatorSettings.hostile_names``): a comment opener before a script tag (it makes an HTML
# parser swallow the next real </script>), a script end tag, an image with an error handler,
# an attribute break-out with an event handler, template syntax of common engines, quotes, an
# ampersand, a tag plotly would render, and the two line separators JavaScript once rejected.
# Each carries "hostile-N" so a test can find where it ends up. None holds "-->": it would
# end the comment the first name opens, and hide what that name does to a page.
HOSTILE_NAMES = (
    "hostile-1 <!--<script>window.__pwned=1</script>",
    "hostile-2 </script><script>window.__pwned=2</script>",
    'hostile-3 <img src=x onerror="window.__pwned=3">',
    "hostile-4 \" onmouseover='window.__pwned=4' x=\"",
    "hostile-5 {{7*7}} ${7*7} #{7*7} <%= 7*7 %> %{x}",
    'hostile-6 Tom & Jerry\'s "Desk" \u2028 \u2029 <b>bold</b> &amp; &lt;',
    "hostile-7 <svg onload=window.__pwned=7></svg><a href=javascript:window.__pwned=7>x</a>",
    "hostile-8 ]]> <style>body{display:none}</style> \\u003c",
)


def hostile_reference() -> tuple[list[Center], list[Client]]:
    """``CENTERS`` and ``CLIENTS`` with hostile names for three centers (the first three
    names), every agent of theirs and half of the clients (all names, in turn); ids, zones,
    weights and everything else unchanged."""
    pool = cycle(HOSTILE_NAMES)
    centers: dict[str, Center] = {}
    for n, center in enumerate(CENTERS):
        if n % 2 == 0:  # centers 0, 2 and 4
            center = replace(
                center,
                name=HOSTILE_NAMES[n // 2],
                agents=tuple(f"{next(pool)} #{k}" for k in range(len(center.agents))),
            )
        centers[center.id] = center
    clients = [
        replace(client, name=f"{next(pool)} client {n}" if n % 2 else client.name,
                center=centers[client.center.id])
        for n, client in enumerate(CLIENTS)
    ]  # fmt: skip
    return list(centers.values()), clients
