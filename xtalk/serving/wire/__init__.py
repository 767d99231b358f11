"""The WebSocket wire protocol: inbound validation and outbound serialisation."""
