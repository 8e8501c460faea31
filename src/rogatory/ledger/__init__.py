"""The evidence ledger: an append-only Merkle log with RFC 9162 hashing (`merkle`), C2SP signed
checkpoints (`checkpoint`), and the database-backed log with inclusion and consistency proofs
(`models`, `store`)."""
