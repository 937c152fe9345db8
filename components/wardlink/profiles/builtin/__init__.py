"""Profiles shipped with Wardlink: a simulated device for every codec.

Serial profiles point at the pty links ``wardlink sim NAME`` creates by default
(``/tmp/wardlink-sim/NAME``); the TCP ones at the conventional MLLP port 2575.
BLE service and characteristic UUIDs are the Bluetooth SIG assigned numbers
(Glucose 0x1808 with 0x2A18/0x2A34/0x2A52, Blood Pressure 0x1810/0x2A35, Heart
Rate 0x180D/0x2A37, Health Thermometer 0x1809/0x2A1C, Pulse Oximeter 0x1822 with
0x2A5E/0x2A5F, Weight Scale 0x181D/0x2A9D, Current Time 0x1805/0x2A2B).
"""
