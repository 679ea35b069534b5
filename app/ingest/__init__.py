"""GoAlert-compatible ingest: read a capped body, find the integration key, parse each sender's
payload into events, and apply them to the alert store in the transaction that verified the key.

Modules: `body` (size limit, content types, JSON and form decoding), `credentials` (where a
token may travel), `text` (what control characters become), `events` (the one shape every
parser produces, and how it is written), one parser per sender (`generic`, `grafana`,
`alertmanager`), and `heartbeat` (monitor check-ins).
"""
