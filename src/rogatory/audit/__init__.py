"""The access audit trail: who read or changed what, when, from where, allowed or denied."""
