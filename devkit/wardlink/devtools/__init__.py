"""Development tools that let Wardlink run without AWS: an embedded MQTT broker
standing in for IoT Core (:mod:`wardlink.devtools.mqtt_broker`) and a throwaway
mutual-TLS PKI for it (:mod:`wardlink.devtools.pki`). Not used on a gateway.

Nothing is re-exported here, so ``python -m wardlink.devtools.mqtt_broker`` does not
import the module twice.
"""
