"""Threat intelligence: indicators with their context and expiry, feeds that bring them, matching
as events stream, retro-hunts in stored history, and sightings shared upstream.

* :mod:`soc.intel.model`: the indicator (type, normalised value, one feed's context) and the
  normalisation every producer and the matcher share;
* :mod:`soc.intel.feeds`: STIX 2.1 bundles and TAXII 2.1 collections, MISP feeds and the MISP REST
  API, CSV and plain lists;
* :mod:`soc.intel.matcher`: the in-memory index events are looked up in;
* :mod:`soc.intel.sightings`: what matched, as STIX 2.1 Sightings, MISP sightings or CSV.
"""
