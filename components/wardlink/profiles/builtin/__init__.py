"""The real device profiles a gateway ships: device models and standard device classes.

Every profile here describes equipment a hospital plugs in, never a simulator, and
names no port: where a unit is plugged in is the site's, in that device's
configuration (``serial.path`` or ``serial.usbVid``/``usbPid``, ``ble.address``,
``tcp.port``/``tcp.allowedPeers``). One profile per codec family the edge ships:

* ``nonin-oem3-format2`` - the Nonin OEM III pulse oximetry module, serial data
  format #2 (``serial:nonin-2``);
* ``astm-glucose-meter`` - a point-of-care glucose meter or docking station sending
  ASTM E1381 (LIS1-A) frames with E1394 (LIS2-A2) records (``serial:astm-e1381``);
* ``ihe-pcd01-monitor-mllp`` - a patient monitor sending IHE PCD-01 HL7 v2
  ORU^R01 over MLLP/TCP to the gateway's listener (``tcp:hl7-mllp``); it accepts
  only this host until the site lists the monitors' network;
* ``ble-sig-*`` - any device conforming to a Bluetooth SIG health service: Glucose
  0x1808 (0x2A18/0x2A34, RACP 0x2A52, bonded), Blood Pressure 0x1810/0x2A35, Heart
  Rate 0x180D/0x2A37, Health Thermometer 0x1809/0x2A1C, Pulse Oximeter 0x1822
  continuous 0x2A5F and spot-check 0x2A5E, Weight Scale 0x181D/0x2A9D; the device
  clock from Current Time 0x1805/0x2A2B where offered. A class profile accepts no
  device until the site gives the unit's Bluetooth address.

Class profiles say ``manufacturer: generic``; the site configuration may name the
unit's manufacturer and model. The simulators' profiles (``sim-*``, pointing at
``wardlink sim`` pty links) are dev-kit data in ``wardlink.sim.profiles``,
registered through the ``wardlink.profiles`` entry point group.
"""
