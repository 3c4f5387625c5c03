"""Standard availability feeds: DATEX II Parking Publication Light (XML, and JSON), APDS occupancy
(JSON) and ParkAPI v3 parking sites (JSON), from the figures ``attendant status --json`` prints.

One source of figures: :func:`snapshot` calls :func:`attendant.booth.shapes.status_json` on a
facility's live views (the booth's bay index, which follows the change log), the same call behind
``attendant status --json`` and ``GET /v1/facilities/{code}/availability``. Nothing here counts bays a
second way; the feeds only rename and regroup that dict's ``capacity``, ``available``, ``occupied``,
``levels[].capacity|available`` and ``levels[].by_type[type].capacity|available``.

Shapes (all three): one site per facility (id = facility code) and one per level (id =
``CODE-LEVEL``, e.g. ``CHS-L1``), each with capacity, free bays, status and an "as of" time. The
status (:func:`site_status`) is ``full`` when no bay is free and ``open`` otherwise. ``closed`` is never
published: the database has no opening hours or closed flag for a facility (a car park whose bays are
all out of service reads as ``full``: nobody can be admitted). Zones are not published: the status
figures are per level and spot type, not per zone. Times are UTC (``...Z``); "as of" is when the figures
were read from the live index (it follows committed changes within a second).

Errors: :func:`render` raises :class:`~attendant.core.errors.InputError` for an unknown feed name.

DATEX II Parking Publication Light (``datex2``)
    Source: the DATEX II "Parking Publication light" model 02-00-00 (docs.datex2.eu, downloads,
    "Parking Publication light"; its generated JSON schema ``DATEXII_3_ParkingPublicationLight.json``
    gives the names and their order). XML in the DATEX II v3 encoding: a ``d2:payload`` root of
    ``xsi:type`` ``ParkingPublicationLight`` with ``lang`` and ``modelBaseVersion="3"``, the
    PayloadPublication's ``publicationTime`` and ``publicationCreator`` (namespace ``common``), then
    ``parkingSite`` elements. Per site: ``lastUpdate`` (as of), ``type`` carPark, ``name``,
    ``description`` (levels: "Level NAME of FACILITY"), ``isOpenNow``, ``temporaryClosed`` (false),
    ``numberOfSpaces`` (capacity: as ``status`` counts it, bays out of service included, where the
    light model would leave closed bays out), ``availableSpaces`` (available) and one ``assignedFor`` per spot type
    (``typeOfAssignment`` optimisedFor with its ``availableSpaces``): motorcycle -> vehicleType
    motorcycle, compact -> smallCar, regular -> car, large -> largeCar, accessible -> user disabled, ev ->
    fuelType battery, and ``locationAndDimension/coordinatesForDisplay`` from the layout's
    ``[facility] latitude``/``longitude`` (levels share the facility's point). The light model requires
    that location: a facility whose layout has no position publishes sites without it, which the schema
    refuses. ``datex2-json`` is the same payload in the DATEX II v3 JSON encoding (enumerations as
    ``{"value": ...}``, ids as ``_id``) and validates against the light model's official JSON schema,
    shipped in ``attendant/api/schemas/datex2-light`` (provenance in ``attendant/api/schemas/README.md``);
    the XML is written from that same dict (:func:`datex2_light`), so the two carry the same content.
    The published XSD of the light model was not found; the namespace of the light model's own
    elements, :data:`DATEX_LIGHT_NS`, follows the DATEX II rule (package name, lower camel case) and is
    unverified.

APDS (``apds``)
    Source: the APDS specification's OpenAPI models (github parkingdata/spec, MIT licence, (c) APDS):
    ``place/hierarchy/HierarchyElementGeneral`` (``id``, ``version``, ``name`` as a MultilingualString
    ``[{"language", "string"}]``, ``layer``, ``type``, ``parentId``, ``childIds``,
    ``hierarchyElementRecord.creationTime``), ``occupancy/Supply`` (``supplyViewType`` spaceView,
    ``supplyQuantity`` = capacity) and ``occupancy/DemandTable`` (``timestamp`` = as of, ``demandType``:
    ``count`` = occupied bays, ``percentage``, ``occupancyCalculation`` counted, ``recordDateTime``).
    The facility is a ``parkingPlace`` at layer 0, its levels ``identifiedArea`` elements at layer 1.
    APDS has no "free bays" or open/full field, so each element also carries ``available`` and
    ``status`` (attendant extensions, named as here). Per spot type: ``supplyBySpotType``
    (extension), ``{type: {"capacity", "available"}}``. Occupied bays per level are not in the status
    figures, so a level's ``demandType`` count is capacity - available (bays not free: occupied,
    reserved or out of service) and says so with ``occupancyCalculation`` derived.

ParkAPI (``parkapi``)
    Source: ParkAPI v3 (github ParkenDD/park-api-v3, ``parking_sites_schema.py`` and
    ``models/parking_site.py``): ``{"items": [...], "total_count": n}``, each item ``id`` and
    ``original_uid`` (``CHS``, ``CHS-L1``), ``name``, ``type`` CAR_PARK, ``purpose`` CAR,
    ``has_realtime_data`` true, ``capacity``, ``realtime_capacity``, ``realtime_free_capacity``,
    ``capacity_disabled``/``realtime_free_capacity_disabled`` (accessible bays),
    ``capacity_charging``/``realtime_free_capacity_charging`` (ev bays), ``realtime_opening_status``
    (OPEN: ParkAPI's enum is OPEN/CLOSED/UNKNOWN, it has no FULL; full reads as OPEN with
    ``realtime_free_capacity`` 0), ``realtime_data_updated_at`` and ``static_data_updated_at`` (as of).
    ParkAPI's ``id`` is an integer of its own database; here it is the site's string id.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from attendant.core.errors import InputError

#: Feed name -> (file name under /v1/feeds/, media type).
FEEDS: dict[str, tuple[str, str]] = {
    "datex2": ("datex2-light.xml", "application/xml"),
    "datex2-json": ("datex2-light.json", "application/json"),
    "apds": ("apds.json", "application/json"),
    "parkapi": ("parkapi.json", "application/json"),
}

D2_PAYLOAD_NS = "http://datex2.eu/schema/3/d2Payload"
D2_COMMON_NS = "http://datex2.eu/schema/3/common"
#: The light model's namespace: DATEX II names a package's namespace after it in lower camel case
#: (``parking``, ``roadTrafficData``); unverified against the light model's XSD (not found).
DATEX_LIGHT_NS = "http://datex2.eu/schema/3/parkingPublicationLight"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

#: Spot type -> (DATEX II Assignment element, value): vehicleType, user or fuelType of the light model.
DATEX_ASSIGNMENT = {
    "motorcycle": ("vehicleType", "motorcycle"),
    "compact": ("vehicleType", "smallCar"),
    "regular": ("vehicleType", "car"),
    "large": ("vehicleType", "largeCar"),
    "accessible": ("user", "disabled"),
    "ev": ("fuelType", "battery"),
}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One facility's figures: ``status`` is what ``attendant status --json`` prints (without its
    revenue in minor units), ``as_of`` the aware UTC time they were read, ``position`` the car park's
    (latitude, longitude) from its layout, or None."""

    status: dict
    as_of: datetime
    position: tuple[float, float] | None = None


def snapshot(views) -> Snapshot:
    """The figures of one facility's live views (:class:`~attendant.core.store.FacilityStore`, or a
    booth's service): :func:`attendant.booth.shapes.status_json`, read at ``views.clock()``."""
    from attendant.booth.shapes import status_json
    from attendant.core.facilities import facility_position

    as_of = views.clock().astimezone(UTC)
    data = status_json(views)
    data.pop("_revenue", None)
    return Snapshot(data, as_of, facility_position(views.engine, views.facility.id))


def site_status(available: int) -> str:
    """``full`` when no bay is free, else ``open`` (``closed`` is never derived: no closed flag exists)."""
    return "full" if available <= 0 else "open"


def _utc(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sites(snap: Snapshot) -> list[dict]:
    """The facility and its levels as flat sites: id, name, layer, capacity, available, occupied
    (None for levels: not in the figures), by_type, parent."""
    s = snap.status
    by_type: dict[str, dict[str, int]] = {}
    for level in s["levels"]:
        for spot_type, figures in level["by_type"].items():
            total = by_type.setdefault(spot_type, {"capacity": 0, "available": 0})
            total["capacity"] += figures["capacity"]
            total["available"] += figures["available"]
    sites = [{"id": s["facility"], "name": s["name"], "layer": 0, "capacity": s["capacity"],
              "available": s["available"], "occupied": s["occupied"], "by_type": dict(sorted(by_type.items())),
              "parent": None, "level_name": None}]
    for level in s["levels"]:
        sites.append({"id": f"{s['facility']}-{level['code']}", "name": f"{s['name']} {level['name']}",
                      "layer": 1, "capacity": level["capacity"], "available": level["available"],
                      "occupied": None, "by_type": level["by_type"], "parent": s["facility"],
                      "level_name": level["name"]})
    return sites


# ----------------------------------------------------------------------------- DATEX II light
def datex2_light_json(snaps: list[Snapshot], published_at: datetime, *, lang: str = "en",
                      country: str = "GB", creator: str = "attendant") -> dict:
    """The DATEX II Parking Publication Light payload of ``snaps`` in the DATEX II v3 JSON encoding
    (enumerations as ``{"value": ...}``, identifiers as ``_id``), which validates against the light
    model's JSON schema (``attendant/api/schemas/datex2-light``). ``published_at`` (aware) is its
    ``publicationTime``; ``country`` (ISO 3166-1 alpha-2) and ``creator`` its ``publicationCreator``."""
    sites = []
    for snap in snaps:
        for site in _sites(snap):
            one: dict = {"_id": site["id"], "lastUpdate": _utc(snap.as_of), "type": {"value": "carPark"},
                         "name": site["name"]}
            if site["level_name"] is not None:
                one["description"] = f"Level {site['level_name']} of {snap.status['name']}"
            one |= {"isOpenNow": True, "temporaryClosed": False, "numberOfSpaces": site["capacity"],
                    "availableSpaces": site["available"]}
            assignments = []
            for spot_type, figures in site["by_type"].items():
                kind, value = DATEX_ASSIGNMENT.get(spot_type, ("additionalAssignment", spot_type))
                assignments.append({"typeOfAssignment": {"value": "optimisedFor"},
                                    kind: value if kind == "additionalAssignment" else {"value": value},
                                    "availableSpaces": figures["available"]})
            if assignments:
                one["assignedFor"] = assignments
            if snap.position is not None:
                lat, lon = snap.position
                one["locationAndDimension"] = {"coordinatesForDisplay": {"latitude": lat, "longitude": lon}}
            sites.append(one)
    publication = {"lang": lang, "publicationTime": _utc(published_at),
                   "publicationCreator": {"country": country, "nationalIdentifier": creator},
                   "name": "Car park availability", "parkingSite": sites}
    return {"_modelBaseVersion": "3", "parkingPublicationLight": publication}


def _xml_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_xml(parent: ET.Element, key: str, value, ns: str) -> None:
    """``key: value`` of the DATEX II JSON encoding as XML under ``parent``: lists repeat the element,
    ``{"value": v}`` enumerations become text, ``_name`` keys attributes, everything in namespace ``ns``."""
    if isinstance(value, list):
        for item in value:
            _to_xml(parent, key, item, ns)
        return
    element = ET.SubElement(parent, f"{{{ns}}}{key}")
    if isinstance(value, dict):
        if "value" in value and set(value) <= {"value", "_extendedValue"}:
            element.text = _xml_text(value["value"])
            if "_extendedValue" in value:
                element.set("_extendedValue", value["_extendedValue"])
            return
        for name, item in value.items():
            if name.startswith("_"):
                element.set(name[1:], _xml_text(item))
            else:
                _to_xml(element, name, item, ns)
    else:
        element.text = _xml_text(value)


def datex2_light(snaps: list[Snapshot], published_at: datetime, **creator) -> bytes:
    """The same payload as :func:`datex2_light_json` in the DATEX II v3 XML encoding (UTF-8 bytes): a
    ``d2:payload`` root of ``xsi:type`` ParkingPublicationLight, ``lang`` and ``modelBaseVersion``
    attributes, the PayloadPublication's elements in the ``common`` namespace and the light model's in
    :data:`DATEX_LIGHT_NS`. ``creator``: :func:`datex2_light_json`'s keyword arguments."""
    doc = datex2_light_json(snaps, published_at, **creator)
    publication = dict(doc["parkingPublicationLight"])
    ET.register_namespace("d2", D2_PAYLOAD_NS)
    ET.register_namespace("com", D2_COMMON_NS)
    ET.register_namespace("prl", DATEX_LIGHT_NS)
    ET.register_namespace("xsi", XSI_NS)
    root = ET.Element(f"{{{D2_PAYLOAD_NS}}}payload", {
        f"{{{XSI_NS}}}type": "prl:ParkingPublicationLight", "lang": publication.pop("lang"),
        "modelBaseVersion": doc["_modelBaseVersion"]})
    for key in ("publicationTime", "publicationCreator"):  # PayloadPublication (common)
        _to_xml(root, key, publication.pop(key), D2_COMMON_NS)
    for key, value in publication.items():
        _to_xml(root, key, value, DATEX_LIGHT_NS)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


# ----------------------------------------------------------------------------- APDS
def apds(snaps: list[Snapshot], published_at: datetime, *, lang: str = "en") -> dict:
    """The APDS occupancy document of ``snaps``: ``{"publicationTime", "places": [...]}``."""
    places = []
    for snap in snaps:
        stamp = _utc(snap.as_of)
        sites = _sites(snap)
        for site in sites:
            occupied = site["occupied"] if site["occupied"] is not None else site["capacity"] - site["available"]
            element = {
                "id": site["id"],
                "version": 1,
                "name": [{"language": lang, "string": site["name"]}],
                "layer": site["layer"],
                "type": "parkingPlace" if site["layer"] == 0 else "identifiedArea",
                "hierarchyElementRecord": {"creationTime": stamp},
                "supply": [{"supplyViewType": "spaceView", "supplyQuantity": site["capacity"]}],
                "demandTable": {"timestamp": stamp, "demandType": [{
                    "count": occupied,
                    "percentage": round(100 * occupied / site["capacity"], 1) if site["capacity"] else 0.0,
                    "occupancyCalculation": "counted" if site["occupied"] is not None else "derived",
                    "recordDateTime": stamp}]},
                "available": site["available"],
                "status": site_status(site["available"]),
                "supplyBySpotType": site["by_type"],
            }
            if site["parent"] is not None:
                element["parentId"] = {"id": site["parent"], "version": 1}
            else:
                element["childIds"] = [{"id": child["id"], "version": 1} for child in sites[1:]]
            places.append(element)
    return {"publicationTime": _utc(published_at), "places": places}


# ----------------------------------------------------------------------------- ParkAPI
def parkapi(snaps: list[Snapshot]) -> dict:
    """The ParkAPI v3 parking sites of ``snaps``: ``{"items": [...], "total_count": n}``."""
    items = []
    for snap in snaps:
        stamp = _utc(snap.as_of)
        for site in _sites(snap):
            by_type = site["by_type"]
            accessible = by_type.get("accessible", {"capacity": 0, "available": 0})
            ev = by_type.get("ev", {"capacity": 0, "available": 0})
            items.append({
                "id": site["id"],
                "original_uid": site["id"],
                "name": site["name"],
                "type": "CAR_PARK",
                "purpose": "CAR",
                "has_realtime_data": True,
                "static_data_updated_at": stamp,
                "capacity": site["capacity"],
                "capacity_disabled": accessible["capacity"],
                "capacity_charging": ev["capacity"],
                "realtime_data_updated_at": stamp,
                "realtime_opening_status": "OPEN",
                "realtime_capacity": site["capacity"],
                "realtime_free_capacity": site["available"],
                "realtime_free_capacity_disabled": accessible["available"],
                "realtime_free_capacity_charging": ev["available"],
            })
    return {"items": items, "total_count": len(items)}


def render(name: str, snaps: list[Snapshot], published_at: datetime | None = None) -> tuple[bytes, str]:
    """Feed ``name`` (a key of :data:`FEEDS`) of ``snaps`` as (bytes, media type); ``published_at``
    defaults to the latest ``as_of``. Raises :class:`InputError` for an unknown name."""
    if name not in FEEDS:
        raise InputError(f"unknown feed {name!r}: one of {', '.join(FEEDS)}")
    if published_at is None:
        published_at = max((s.as_of for s in snaps), default=datetime.now(UTC))
    media = FEEDS[name][1]
    if name == "datex2":
        return datex2_light(snaps, published_at), media
    if name == "datex2-json":
        body = datex2_light_json(snaps, published_at)
    else:
        body = apds(snaps, published_at) if name == "apds" else parkapi(snaps)
    return (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8"), media
