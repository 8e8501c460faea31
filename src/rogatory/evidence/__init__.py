"""The evidence vault: a content-addressed store of evidence files (`store`), their items with
acquisition metadata and their append-only chain of custody (`models`, `service`), each custody
event a leaf of the node's Merkle ledger."""
