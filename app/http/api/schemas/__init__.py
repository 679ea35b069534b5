"""The /api/v1 schemas, one module per resource: the same pydantic models validate requests and
become the OpenAPI document (app.http.api.openapi).

`base` holds what every resource builds on: the Input/Patch/Query/PageQuery/Output bases, the
error envelope, and the shared field types and validators. Resource modules import their models
from here (e.g. `from app.http.api.schemas.users import User`).
"""
