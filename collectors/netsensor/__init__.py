"""The network sensor: captured frames → flow, DNS, HTTP, TLS, ARP and ICMP events (ECS).

The hot path (link, IP and transport headers, the flow table) is plain ``struct`` decoding; scapy
reads the capture files (``RawPcapReader``/``RawPcapNgReader``), names DNS types and classes, and
builds captures for tests and the demo. See docs/network-sensor.md.
"""

from collectors.netsensor.sensor import Sensor, SensorConfig, SensorStats

__all__ = ["Sensor", "SensorConfig", "SensorStats"]
