"""The manufacturer's cloud API: Lambda handlers, DynamoDB repositories, telemetry store.

Layering, top to bottom:

* ``handlers``: one Lambda entry point per module, built with Powertools for AWS
  Lambda. They validate input, call a repository and shape the response.
* ``repositories``: the only code that talks to DynamoDB, one class per table.
  Every read is a ``GetItem`` or a ``Query`` on the table key or a GSI, never a Scan.
* ``telemetry``: the Kinesis -> time-series writer behind a small interface, with a
  Timestream for LiveAnalytics implementation and an InfluxDB-shaped alternative.

``models`` holds the request and response shapes and is imported by the edge client
too, so it depends on pydantic only. Importing this package pulls in nothing heavy.
"""
