"""Imports every table so that `Base.metadata` is complete (for Alembic and tests)."""

from rogatory.audit import models as audit_models
from rogatory.db import Base
from rogatory.directory import models as directory_models
from rogatory.evidence import models as evidence_models
from rogatory.identity import models as identity_models
from rogatory.ledger import models as ledger_models
from rogatory.requests import models as request_models
from rogatory.safeguards import models as safeguard_models

__all__ = ["Base", "audit_models", "directory_models", "evidence_models", "identity_models",
           "ledger_models", "request_models", "safeguard_models"]
